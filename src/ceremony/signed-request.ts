/**
 * Signed admin requests: HTTP Message Signatures (RFC 9421) over a
 * Content-Digest (RFC 9530) of the body.
 *
 * Every mutating admin request carries
 *
 *   Content-Digest:  sha-256=:<b64>:
 *   Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest");created=<unix>;nonce="<b64>";keyid="<member>";alg="<alg>"
 *   Signature:       sig1=:<b64>:
 *
 * `@authority` (RFC 9421 §2.2.3) names the deployment the request is for, so a
 * request signed for one deployment is refused by another that enrolled the same
 * member key. Signer and verifier both take it from RequestParts.authority; a
 * verifier given none expects the four components without it (the pure checks of
 * this module are tested that way; the server always gives one).
 *
 * The verifier is deliberately narrower than RFC 9421 allows, because every
 * degree of freedom is a way to get a signature over less than we think:
 *
 * - exactly one signature per request, under any label, in both fields;
 * - exactly the covered components `("@method" "@authority" "@path" "@query" "content-digest")`,
 *   in that order and without component parameters;
 * - exactly the parameters `created`, `nonce`, `keyid` and `alg`, all required
 *   (in any order; `expires` and `tag` are refused rather than half-honoured);
 * - the structured fields must be in canonical RFC 8941 serialization. A
 *   conformant serializer always emits that form, and refusing the others
 *   leaves exactly one accepted spelling of every signature;
 * - Content-Digest must carry `sha-256` (and may add `sha-512`); every digest
 *   present is recomputed over the raw body bytes.
 *
 * Everything here is pure: the caller passes `now`, looks the member's key up
 * by `keyId`, and stores the nonce until `expiresAt` to refuse replays.
 */
import { createHash, randomBytes, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';

import {
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
} from 'structured-headers';

import { CovenantError } from '../core/errors.js';
import { loadPrivateKey, MEMBER_KEY_ALGS, memberAlgOfKey, type MemberKeyAlg } from './member-key.js';

export const SIGNATURE_LABEL = 'sig1';
/** What a request names when its signature covers no authority (RequestParts.authority absent). */
export const COVERED_COMPONENTS: readonly string[] = Object.freeze(['@method', '@path', '@query', 'content-digest']);
/** What a request for a named authority covers: what the server requires. */
export const COVERED_WITH_AUTHORITY: readonly string[] = Object.freeze(['@method', '@authority', '@path', '@query', 'content-digest']);
const MAX_AUTHORITY_LENGTH = 262; // a 255-character host name, ':' and a port
/** RFC 3986 authority without userinfo: reg-name or IP literal, optional port (lower case once normalised). */
const AUTHORITY_RE = /^(?:\[[0-9a-f:.]+\]|[a-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{1,5})?$/;
export const DEFAULT_WINDOW_SECONDS = 300;

/**
 * Upper bound on each signature-related field. Ours are ~250 characters plus
 * the member name; the bound keeps a hostile client from making us parse
 * megabytes before any authentication has happened.
 */
export const MAX_SIGNATURE_FIELD_LENGTH = 4096;
const MAX_KEYID_LENGTH = 256;
const MIN_NONCE_BYTES = 16;
const MAX_NONCE_LENGTH = 128;
const MAX_METHOD_LENGTH = 32;
/** A day: a longer replay window would mean the nonce store is doing the work of clocks. */
const MAX_WINDOW_SECONDS = 86_400;

const ED25519_SIGNATURE_BYTES = 64;
/** ecdsa-p256-sha256 signatures are r‖s, two 32-byte big-endian integers (RFC 9421 §3.3.4), not DER. */
const P256_SIGNATURE_BYTES = 64;

const ALLOWED_PARAMS = new Set(['created', 'nonce', 'keyid', 'alg']);
const DIGEST_ALGORITHMS = { 'sha-256': 'sha256', 'sha-512': 'sha512' } as const;

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PATH_RE = /^\/[\x21-\x22\x24-\x3E\x40-\x7E]*$/; // VCHAR without '?' and '#'
const QUERY_RE = /^[\x21-\x22\x24-\x7E]*$/; // VCHAR without '#'
const PRINTABLE_RE = /^[\x20-\x7E]*$/;
const FIELD_CONTENT_RE = /^[\t\x20-\x7E]*$/;
const NONCE_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;
const COMPONENT_NAME_RE = /^@?[a-z0-9!#$%&'*+\-.^_`|~]+$/;
const PARAM_KEY_RE = /^[a-z*][a-z0-9_\-.*]*$/;

export type HeaderValue = string | readonly string[] | undefined;
/** Header fields as Node delivers them (`IncomingHttpHeaders` fits); names are matched case-insensitively. */
export type SignatureHeaders = Readonly<Record<string, HeaderValue>>;

export interface RequestParts {
  /** Request method exactly as sent; RFC 9421 does not normalise its case. */
  readonly method: string;
  /** Absolute path as sent (still percent-encoded), without the query. */
  readonly path: string;
  /** Raw query as sent, without the leading '?'; absent or empty both sign as `?`. */
  readonly query?: string | undefined;
  /** Raw body bytes (strings are taken as UTF-8); absent means the empty body. */
  readonly body?: Uint8Array | string | undefined;
  /**
   * The target's authority, host[:port] as in the URL (`new URL(server).host`), which
   * the signature then covers as `@authority`. Normalised as RFC 9110 §4.2.3 says.
   */
  readonly authority?: string | undefined;
}

export interface SignRequestInput extends RequestParts {
  /** The member's name: verifiers look the public key up by it. */
  readonly keyId: string;
  readonly alg: MemberKeyAlg;
  /** A private KeyObject or its PEM. */
  readonly privateKey: KeyObject | string;
  readonly created: Date;
  /** Base64 of at least 16 random bytes; generated when omitted. Fixed values are for tests only. */
  readonly nonce?: string;
}

export interface ParsedSignature {
  readonly label: string;
  readonly keyId: string;
  readonly alg: MemberKeyAlg;
  /** Unix seconds, as signed. */
  readonly created: number;
  readonly nonce: string;
  readonly signature: Uint8Array;
  /** The exact RFC 9421 §2.5 signature base the signature must cover. */
  readonly signatureBase: string;
}

export interface VerifyOptions {
  readonly now: Date;
  /** Accepted clock skew either side of `now`; defaults to DEFAULT_WINDOW_SECONDS. */
  readonly windowSeconds?: number;
}

export interface VerifiedRequest {
  readonly keyId: string;
  readonly nonce: string;
  readonly created: Date;
  /** created + window: the request can no longer pass the time check after this, so its nonce may be forgotten. */
  readonly expiresAt: Date;
}

// ---------------------------------------------------------------------------
// Errors. Messages name what is wrong, never the offending value: header
// values are attacker-controlled and signatures should not end up in logs.

const unauthenticated = (message: string) => new CovenantError('unauthenticated', message);
const invalid = (message: string) => new CovenantError('signature-invalid', message);

// ---------------------------------------------------------------------------
// RFC 9530 Content-Digest

function bodyBytes(body: Uint8Array | string | undefined): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return body;
}

/** `sha-256=:<b64>:` over the raw body (the empty body when absent). */
export function contentDigest(body?: Uint8Array | string): string {
  const digest = createHash('sha256').update(bodyBytes(body)).digest();
  return serializeDictionary(new Map([['sha-256', [digest, new Map()]]]));
}

// ---------------------------------------------------------------------------
// RFC 9421 §2.5 signature base

function serializeParamValue(name: string, value: string | number): BareItem {
  if (typeof value === 'number') {
    // sf-integer range (RFC 8941 §3.3.1); decimals have no place in signature parameters.
    if (!Number.isSafeInteger(value) || Math.abs(value) > 999_999_999_999_999) {
      throw new CovenantError('bad-request', `signature parameter ${name} must be an integer`);
    }
    return value;
  }
  if (typeof value !== 'string' || !PRINTABLE_RE.test(value)) {
    throw new CovenantError('bad-request', `signature parameter ${name} must be printable ASCII`);
  }
  return value;
}

/**
 * Builds the RFC 9421 §2.5 signature base for plain component names (no
 * component parameters such as `;sf` or `;key`, which we never sign).
 * `values` maps each component name to its already-canonical value (derived
 * components as defined in §2.2, header fields trimmed and combined per §2.1);
 * `params` are serialized in their insertion order, so pass them in the order
 * they appear on the wire.
 */
export function buildSignatureBase(
  components: readonly string[],
  values: Readonly<Record<string, string>>,
  params: Readonly<Record<string, string | number>>,
): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  const items: Item[] = [];
  for (const name of components) {
    if (typeof name !== 'string' || !COMPONENT_NAME_RE.test(name) || name === '@signature-params') {
      throw new CovenantError('bad-request', 'unsupported covered component name');
    }
    if (seen.has(name)) throw new CovenantError('bad-request', `component ${name} is covered twice`);
    seen.add(name);
    const value = Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
    if (typeof value !== 'string') throw new CovenantError('bad-request', `no value for covered component ${name}`);
    const allowed = name.startsWith('@') ? PRINTABLE_RE : FIELD_CONTENT_RE;
    // A newline in a value would let one component forge another's line.
    if (!allowed.test(value)) throw new CovenantError('bad-request', `component ${name} has characters a signature base cannot hold`);
    lines.push(`"${name}": ${value}`);
    items.push([name, new Map()]);
  }
  const paramMap = new Map<string, BareItem>();
  for (const [key, value] of Object.entries(params)) {
    if (!PARAM_KEY_RE.test(key)) throw new CovenantError('bad-request', 'invalid signature parameter name');
    paramMap.set(key, serializeParamValue(key, value));
  }
  let signatureParams: string;
  try {
    signatureParams = serializeInnerList([items, paramMap]);
  } catch (err) {
    throw new CovenantError('bad-request', 'signature parameters cannot be serialized', { cause: err });
  }
  lines.push(`"@signature-params": ${signatureParams}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Shared validation of the request parts (signer and verifier use the same rules).

type PartsErrorType = 'validation-failed' | 'bad-request';

/**
 * `authority` as RFC 9421 §2.2.3 covers it: lower case, without the default port.
 * The scheme is not known here (the server may sit behind a TLS terminator), so both
 * :80 and :443 count as default.
 */
export function normalizeAuthority(authority: string, errorType: PartsErrorType = 'bad-request'): string {
  const lower = typeof authority === 'string' ? authority.toLowerCase() : '';
  if (lower.length === 0 || lower.length > MAX_AUTHORITY_LENGTH || !AUTHORITY_RE.test(lower)) {
    throw new CovenantError(errorType, 'request authority must be host[:port] as in the URL');
  }
  return lower.replace(/:(?:80|443)$/, '');
}

const coveredFor = (parts: RequestParts): readonly string[] => (parts.authority === undefined ? COVERED_COMPONENTS : COVERED_WITH_AUTHORITY);

function componentValues(parts: RequestParts, errorType: PartsErrorType, digest: string): Record<string, string> {
  const { method, path } = parts;
  const query = parts.query ?? '';
  if (typeof method !== 'string' || method.length > MAX_METHOD_LENGTH || !TOKEN_RE.test(method)) {
    throw new CovenantError(errorType, 'request method is not a valid HTTP method token');
  }
  if (typeof path !== 'string' || !PATH_RE.test(path)) {
    throw new CovenantError(errorType, 'request path must be an absolute path without query or fragment');
  }
  if (typeof query !== 'string' || !QUERY_RE.test(query)) {
    throw new CovenantError(errorType, 'request query must be the raw query string without "?" or fragment');
  }
  const body = parts.body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new CovenantError(errorType, 'request body must be bytes or a string');
  }
  const values: Record<string, string> = { '@method': method, '@path': path, '@query': `?${query}`, 'content-digest': digest };
  if (parts.authority !== undefined) values['@authority'] = normalizeAuthority(parts.authority, errorType);
  return values;
}

function validKeyId(keyId: unknown): keyId is string {
  return typeof keyId === 'string' && keyId.length > 0 && keyId.length <= MAX_KEYID_LENGTH && PRINTABLE_RE.test(keyId) && keyId.trim() === keyId;
}

function validNonce(nonce: unknown): nonce is string {
  if (typeof nonce !== 'string' || nonce.length > MAX_NONCE_LENGTH || !NONCE_RE.test(nonce)) return false;
  const significant = nonce.replace(/=+$/, '').length;
  return Math.floor((significant * 3) / 4) >= MIN_NONCE_BYTES;
}

function isMemberKeyAlg(value: unknown): value is MemberKeyAlg {
  return typeof value === 'string' && (MEMBER_KEY_ALGS as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------
// Signing

function signBase(base: string, key: KeyObject, alg: MemberKeyAlg): Buffer {
  const data = Buffer.from(base, 'utf8');
  return alg === 'ed25519' ? cryptoSign(null, data, key) : cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
}

/**
 * Signs a request; returns the `content-digest`, `signature-input` and
 * `signature` header fields (lower-case names) to add to it.
 */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const fail = (message: string) => new CovenantError('validation-failed', message);
  if (!isMemberKeyAlg(input.alg)) throw fail(`alg must be one of ${MEMBER_KEY_ALGS.join(', ')}`);
  if (!validKeyId(input.keyId)) throw fail('keyId must be 1-256 printable ASCII characters without surrounding spaces');
  if (!(input.created instanceof Date) || !Number.isFinite(input.created.getTime()) || input.created.getTime() < 0) {
    throw fail('created must be a valid date');
  }
  const key = typeof input.privateKey === 'string' ? loadPrivateKey(input.privateKey).key : input.privateKey;
  if (key?.type !== 'private' || memberAlgOfKey(key) !== input.alg) {
    throw fail(`privateKey is not a ${input.alg} private key`);
  }
  const nonce = input.nonce ?? randomBytes(24).toString('base64');
  if (!validNonce(nonce)) throw fail('nonce must be base64 of at least 16 bytes');

  const digest = contentDigest(input.body);
  const values = componentValues(input, 'validation-failed', digest);
  const created = Math.floor(input.created.getTime() / 1000);
  const params = { created, nonce, keyid: input.keyId, alg: input.alg };
  const covered = coveredFor(input);
  const base = buildSignatureBase(covered, values, params);
  const signature = signBase(base, key, input.alg);

  const innerList: InnerList = [
    covered.map((name): Item => [name, new Map()]),
    new Map<string, BareItem>(Object.entries(params)),
  ];
  return {
    'content-digest': digest,
    'signature-input': serializeDictionary(new Map([[SIGNATURE_LABEL, innerList]])),
    signature: serializeDictionary(new Map([[SIGNATURE_LABEL, [signature, new Map()]]])),
  };
}

// ---------------------------------------------------------------------------
// Parsing

/** One header field, case-insensitively, with repeated lines combined as RFC 9110 §5.3 does. */
function headerField(headers: SignatureHeaders, name: string): string | undefined {
  let found: HeaderValue;
  let matches = 0;
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue;
    matches += 1;
    found = headers[key];
  }
  if (matches > 1) throw invalid(`the ${name} field is given more than once under different spellings`);
  if (found === undefined) return undefined;
  const lines: readonly unknown[] = typeof found === 'string' ? [found] : Array.isArray(found) ? found : [null];
  let total = 0;
  for (const line of lines) {
    if (typeof line !== 'string') throw invalid(`the ${name} field is not text`);
    total += line.length + 2;
    if (total > MAX_SIGNATURE_FIELD_LENGTH + 2) throw invalid(`the ${name} field is too large`);
  }
  const combined = (lines as string[]).map((line) => line.replace(/^[ \t]+|[ \t]+$/g, '')).join(', ');
  return combined.length === 0 ? undefined : combined;
}

/** Parses a Dictionary field and insists it is already in canonical serialization. */
function parseCanonicalDictionary(value: string, name: string): Dictionary {
  let dict: Dictionary;
  try {
    dict = parseDictionary(value);
  } catch {
    throw invalid(`the ${name} field is not a valid structured field dictionary`);
  }
  let canonical: string;
  try {
    canonical = serializeDictionary(dict);
  } catch {
    throw invalid(`the ${name} field is not a valid structured field dictionary`);
  }
  if (canonical !== value) throw invalid(`the ${name} field is not in canonical structured field serialization`);
  return dict;
}

const isInnerList = (member: Item | InnerList): member is InnerList => Array.isArray(member[0]);

function checkContentDigest(fieldValue: string, body: Uint8Array): void {
  const dict = parseCanonicalDictionary(fieldValue, 'content-digest');
  if (!dict.has('sha-256')) throw invalid('the content-digest field must include sha-256');
  for (const [algorithm, member] of dict) {
    if (!Object.prototype.hasOwnProperty.call(DIGEST_ALGORITHMS, algorithm)) {
      throw invalid('the content-digest field uses an unsupported digest algorithm');
    }
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer) || member[1].size !== 0) {
      throw invalid('the content-digest field must hold plain byte sequences');
    }
    const expected = createHash(DIGEST_ALGORITHMS[algorithm as keyof typeof DIGEST_ALGORITHMS]).update(body).digest();
    const claimed = new Uint8Array(member[0]);
    if (claimed.length !== expected.length || !timingSafeEqual(claimed, expected)) {
      throw invalid('the content-digest field does not match the request body');
    }
  }
}

/**
 * Parses and checks the signature fields of a request against its method,
 * path, query and raw body, and returns the signature parameters together
 * with the exact signature base. It does not verify the signature: look the
 * member's key up by `keyId`, then call verifyRequestSignature.
 */
export function parseSignatureHeaders(headers: SignatureHeaders, request: RequestParts): ParsedSignature {
  if (headers === null || typeof headers !== 'object') throw unauthenticated('request carries no headers');
  const signatureInput = headerField(headers, 'signature-input');
  const signatureField = headerField(headers, 'signature');
  const digestField = headerField(headers, 'content-digest');
  if (signatureInput === undefined || signatureField === undefined) {
    throw unauthenticated('request is not signed: Signature-Input and Signature fields are required (RFC 9421)');
  }
  if (digestField === undefined) {
    throw unauthenticated('signed requests must carry a Content-Digest field (RFC 9530)');
  }

  const inputDict = parseCanonicalDictionary(signatureInput, 'signature-input');
  const signatureDict = parseCanonicalDictionary(signatureField, 'signature');
  if (inputDict.size !== 1 || signatureDict.size !== 1) {
    throw invalid('exactly one signature is accepted per request');
  }
  const [label, member] = [...inputDict][0] as [string, Item | InnerList];
  const signatureMember = signatureDict.get(label);
  if (signatureMember === undefined) throw invalid('the signature and signature-input fields use different labels');

  if (!isInnerList(member)) throw invalid('the signature-input member must be an inner list');
  const [items, params] = member;
  const names = items.map(([name, itemParams]) => (typeof name === 'string' && itemParams.size === 0 ? name : null));
  const covered = coveredFor(request);
  if (names.length !== covered.length || names.some((name, i) => name !== covered[i])) {
    throw invalid(`the signature must cover exactly (${covered.map((c) => `"${c}"`).join(' ')})`);
  }

  for (const key of params.keys()) {
    if (!ALLOWED_PARAMS.has(key)) throw invalid(`unsupported signature parameter: only created, nonce, keyid and alg are accepted`);
  }
  const created = params.get('created');
  const nonce = params.get('nonce');
  const keyId = params.get('keyid');
  const alg = params.get('alg');
  if (created === undefined || nonce === undefined || keyId === undefined || alg === undefined) {
    throw invalid('the signature parameters created, nonce, keyid and alg are all required');
  }
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || created < 0) {
    throw invalid('the created parameter must be a non-negative integer');
  }
  if (!validNonce(nonce)) throw invalid('the nonce parameter must be base64 of at least 16 bytes');
  if (!validKeyId(keyId)) throw invalid('the keyid parameter is not a valid member name');
  if (!isMemberKeyAlg(alg)) throw invalid(`the alg parameter must be one of ${MEMBER_KEY_ALGS.join(', ')}`);

  if (isInnerList(signatureMember) || !(signatureMember[0] instanceof ArrayBuffer) || signatureMember[1].size !== 0) {
    throw invalid('the signature member must be a plain byte sequence');
  }
  const signature = new Uint8Array(signatureMember[0]);
  const expectedLength = alg === 'ed25519' ? ED25519_SIGNATURE_BYTES : P256_SIGNATURE_BYTES;
  if (signature.length !== expectedLength) throw invalid(`an ${alg} signature is ${expectedLength} bytes`);

  const values = componentValues(request, 'bad-request', digestField);
  checkContentDigest(digestField, bodyBytes(request.body));

  // Canonical form was enforced above, so rebuilding the parameters from the
  // parsed map reproduces the received Signature-Input member byte for byte.
  const paramRecord: Record<string, string | number> = {};
  for (const [key, value] of params) paramRecord[key] = value as string | number;
  const signatureBase = buildSignatureBase(covered, values, paramRecord);

  return { label, keyId, alg, created, nonce, signature, signatureBase };
}

// ---------------------------------------------------------------------------
// Verification

/**
 * Checks the time window and the signature with the member's registered key
 * and algorithm. Refuses a signature whose `alg` differs from the member's
 * (no algorithm confusion), and timestamps more than the window away from
 * `now` in either direction.
 */
export function verifyRequestSignature(
  parsed: ParsedSignature,
  publicKey: KeyObject,
  alg: MemberKeyAlg,
  options: VerifyOptions,
): VerifiedRequest {
  const { now } = options;
  const windowSeconds = options.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
  if (!(now instanceof Date) || !Number.isFinite(now.getTime())) {
    throw new CovenantError('validation-failed', 'now must be a valid date');
  }
  if (!Number.isFinite(windowSeconds) || windowSeconds <= 0 || windowSeconds > MAX_WINDOW_SECONDS) {
    throw new CovenantError('validation-failed', `windowSeconds must be greater than 0 and at most ${MAX_WINDOW_SECONDS}`);
  }

  if (!isMemberKeyAlg(alg) || parsed.alg !== alg) {
    throw invalid("the signature algorithm does not match the member's key");
  }
  if (publicKey === null || typeof publicKey !== 'object' || memberAlgOfKey(publicKey) !== alg) {
    throw invalid(`the member's key is not an ${alg} key`);
  }

  const createdMs = parsed.created * 1000;
  const windowMs = windowSeconds * 1000;
  const skewMs = now.getTime() - createdMs;
  if (Math.abs(skewMs) > windowMs) {
    const direction = skewMs > 0 ? 'before' : 'after';
    throw new CovenantError(
      'stale-request',
      `request was signed ${Math.round(Math.abs(skewMs) / 1000)} s ${direction} the server time; the window is ${windowSeconds} s`,
    );
  }

  let ok: boolean;
  try {
    const data = Buffer.from(parsed.signatureBase, 'utf8');
    ok =
      alg === 'ed25519'
        ? cryptoVerify(null, data, publicKey, parsed.signature)
        : cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, parsed.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw invalid('the request signature does not verify');

  return {
    keyId: parsed.keyId,
    nonce: parsed.nonce,
    created: new Date(createdMs),
    expiresAt: new Date(createdMs + windowMs),
  };
}
