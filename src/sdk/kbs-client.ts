/**
 * The workload side of the key broker: a KBS RCAR client (shared/reference formats A.1)
 * that attests a TEE and returns decrypted secrets. It makes a key pair inside the TEE
 * — the `tee-pubkey` — has the TEE report over the hash of the runtime data that names
 * it, and opens each secret (a JWE to that key) itself; the key never leaves the
 * process, so the result token it holds is worth nothing to anyone else.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { flattenedDecrypt, type FlattenedJWE } from 'jose';
import { CovenantError, type ProblemType } from '../core/errors.js';
import { kbsReportData } from '../keys/runtime-data.js';
import { honouringRetryAfter, type RetryAfterOptions } from './retry-after.js';

/** A TEE as the RCAR client needs it: its KBS `tee` name and evidence over given report data. */
export interface RcarTee {
  readonly tee: string;
  /** The `primary_evidence` object whose report data is exactly `reportData` (64 bytes). */
  evidence(reportData: Uint8Array): Promise<Readonly<Record<string, unknown>>>;
}

/** One HTTP exchange; injectable so tests and benchmarks bring their own (fastify inject, undici). */
export type KbsTransport = (request: {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}) => Promise<{ readonly status: number; readonly headers: { readonly 'set-cookie'?: string | undefined; readonly 'retry-after'?: string | undefined }; readonly body: string }>;

export const fetchKbsTransport: KbsTransport = async ({ method, url, headers, body }) => {
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  return {
    status: response.status,
    headers: { 'set-cookie': response.headers.get('set-cookie') ?? undefined, 'retry-after': response.headers.get('retry-after') ?? undefined },
    body: await response.text(),
  };
};

/** A refusal by the broker: the KBS error name, its ledgered reason code if any, the detail. */
export class KbsRefused extends CovenantError {
  constructor(
    readonly httpStatus: number,
    /** The last segment of the problem type: a KBS error name (`PolicyDeny`, …) or a Covenant problem type. */
    readonly kbsType: string,
    detail: string,
    /** The broker's reason code (`token-not-standing`, `slot-closed`, …), when it recorded one. */
    readonly reason?: string,
  ) {
    super(statusType(httpStatus), detail);
    this.name = 'KbsRefused';
  }
}

function statusType(status: number): ProblemType {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  return status >= 500 ? 'internal' : 'bad-request';
}

function refusal(status: number, text: string): KbsRefused {
  let problem: { type?: unknown; detail?: unknown; reason?: unknown } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    // not a problem document: the status says what there is to say
  }
  const type = typeof problem.type === 'string' ? (problem.type.split('/').pop() ?? 'unknown') : 'unknown';
  return new KbsRefused(status, type, typeof problem.detail === 'string' ? problem.detail : `HTTP ${status}`, typeof problem.reason === 'string' ? problem.reason : undefined);
}

export type TeeKeyType = 'EC-P256' | 'EC-P384' | 'RSA';

const PROTOCOL_VERSION = '0.1.1';
const COOKIE = 'kbs-session-id';

function teeKeyPair(type: TeeKeyType): { publicJwk: Readonly<Record<string, string>>; privateKey: KeyObject } {
  const pair = type === 'RSA' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: type === 'EC-P384' ? 'P-384' : 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const publicJwk: Record<string, string> =
    type === 'RSA' ? { kty: 'RSA', alg: 'RSA-OAEP-256', n: jwk.n!, e: jwk.e! } : { kty: 'EC', crv: jwk.crv!, alg: 'ECDH-ES+A256KW', x: jwk.x!, y: jwk.y! };
  return { publicJwk, privateKey: pair.privateKey };
}

export interface KbsClientOptions extends RetryAfterOptions {
  /** Control plane base URL, e.g. http://127.0.0.1:7800 */
  readonly server: string;
  readonly workload: string;
  readonly tee: RcarTee;
  readonly transport?: KbsTransport;
  /** The TEE key's type (default EC P-256). */
  readonly keyType?: TeeKeyType;
}

export class KbsClient {
  readonly #options: KbsClientOptions;
  readonly #transport: KbsTransport;
  readonly #key: { readonly publicJwk: Readonly<Record<string, string>>; readonly privateKey: KeyObject };
  #token: string | undefined;

  constructor(options: KbsClientOptions) {
    this.#options = options;
    this.#transport = options.transport ?? fetchKbsTransport;
    this.#key = teeKeyPair(options.keyType ?? 'EC-P256');
  }

  /** The public TEE key every secret is encrypted to. */
  get teePublicKey(): Readonly<Record<string, string>> {
    return this.#key.publicJwk;
  }

  /** The current result token (after `attest`). */
  get token(): string | undefined {
    return this.#token;
  }

  /** Runs auth and attest; returns the result token, bound to this client's TEE key. */
  async attest(): Promise<string> {
    const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
    const auth = await this.#send({
      method: 'POST',
      url: this.#url('auth'),
      headers: { 'content-type': 'application/json' },
      body: json({ version: PROTOCOL_VERSION, tee: this.#options.tee.tee, 'extra-params': { workload: this.#options.workload } }),
    });
    if (auth.status !== 200) throw refusal(auth.status, auth.body);
    const session = cookieOf(auth.headers['set-cookie']);
    if (session === undefined) throw new KbsRefused(auth.status, 'InvalidCookie', 'the broker set no kbs-session-id cookie');
    const { nonce } = JSON.parse(auth.body) as { nonce: string };
    const runtimeData = { nonce, 'tee-pubkey': this.#key.publicJwk };
    const primary = await this.#options.tee.evidence(kbsReportData(runtimeData));
    const attested = await this.#send({
      method: 'POST',
      url: this.#url('attest'),
      headers: { 'content-type': 'application/json', cookie: `${COOKIE}=${session}` },
      body: json({ 'runtime-data': runtimeData, 'tee-evidence': { primary_evidence: primary } }),
    });
    if (attested.status !== 200) throw refusal(attested.status, attested.body);
    this.#token = (JSON.parse(attested.body) as { token: string }).token;
    return this.#token;
  }

  /** A resource's plaintext (`repository/type/tag`), attesting first if there is no token yet. */
  async getResource(path: string, options: { readonly version?: number } = {}): Promise<Uint8Array> {
    const token = this.#token ?? (await this.attest());
    const query = options.version === undefined ? '' : `?version=${options.version}`;
    const response = await this.#send({ method: 'GET', url: `${this.#url(`resource/${path}`)}${query}`, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    if (response.status !== 200) throw refusal(response.status, response.body);
    const { plaintext } = await flattenedDecrypt(JSON.parse(response.body) as FlattenedJWE, this.#key.privateKey);
    return plaintext;
  }

  /** A sealing-key slot of this instance's workload (`current` or `legacy`). */
  async sealingKey(slot: 'current' | 'legacy'): Promise<{ slot: string; kid: string; release: string; key: Uint8Array; closesAt?: string }> {
    const document = JSON.parse(new TextDecoder().decode(await this.getResource(`sealing/key/${slot}`))) as { slot: string; kid: string; release: string; key: string; closesAt?: string };
    return { ...document, key: new Uint8Array(Buffer.from(document.key, 'base64url')) };
  }

  #url(path: string): string {
    const base = this.#options.server.endsWith('/') ? this.#options.server : `${this.#options.server}/`;
    return new URL(`kbs/v0/${path}`, base).toString();
  }

  #send(request: Parameters<KbsTransport>[0]): ReturnType<KbsTransport> {
    return honouringRetryAfter(() => this.#transport(request), this.#options);
  }
}

/** The kbs-session-id value of a Set-Cookie header. */
function cookieOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : new RegExp(`(?:^|[,;]\\s*)${COOKIE}=([^;,\\s]+)`).exec(header);
  return match?.[1];
}
