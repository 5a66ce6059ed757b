import fc from 'fast-check';
import { serializeDictionary, Token, type BareItem, type InnerList, type Item } from 'structured-headers';
import { describe, expect, it } from 'vitest';

import { CovenantError, type ProblemType } from '../../src/core/errors.js';
import { generateMemberKey, loadPrivateKey, parseMemberPublicKey, type MemberKeyAlg } from '../../src/ceremony/member-key.js';
import {
  parseSignatureHeaders,
  signRequest,
  verifyRequestSignature,
  type RequestParts,
  type SignatureHeaders,
} from '../../src/ceremony/signed-request.js';

/*
 * Untrusted input reaches parseSignatureHeaders before any authentication, so
 * it must only ever throw CovenantError, and nothing but the exact signed
 * request may pass. "Exact" allows the one liberty HTTP itself takes: leading
 * and trailing spaces/tabs around a field value are not part of it.
 */

const NUM_RUNS = 400;
const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_S = NOW.getTime() / 1000;
const NONCE = 'q3Zb1tU0m9kQf2pY7xWc4Lr8sHn6vJd5';
const FIELDS = ['signature-input', 'signature', 'content-digest'] as const;
type Field = (typeof FIELDS)[number];

const EXPECTED_TYPES = new Set<ProblemType>(['unauthenticated', 'signature-invalid', 'stale-request', 'bad-request']);

const REQUEST: RequestParts = {
  method: 'POST',
  path: '/v1/tenants/acme/rollouts',
  query: 'wait=true',
  body: '{"release":"sha256:abc","stage":"canary"}',
};

interface Fixture {
  readonly alg: MemberKeyAlg;
  readonly publicKey: ReturnType<typeof parseMemberPublicKey>['key'];
  readonly headers: Readonly<Record<Field, string>>;
}

function fixture(alg: MemberKeyAlg): Fixture {
  const generated = generateMemberKey(alg);
  const signed = signRequest({
    ...REQUEST,
    keyId: 'alice',
    alg,
    privateKey: loadPrivateKey(generated.privateKeyPem).key,
    created: NOW,
    nonce: NONCE,
  });
  const headers = {
    'signature-input': signed['signature-input'] ?? '',
    signature: signed.signature ?? '',
    'content-digest': signed['content-digest'] ?? '',
  };
  return { alg, publicKey: parseMemberPublicKey(generated.publicKey).key, headers };
}

const FIXTURES = [fixture('ed25519'), fixture('ecdsa-p256-sha256')];

type Outcome = { accepted: true } | { accepted: false; error: CovenantError };

/** Runs the whole server-side check; anything other than a CovenantError escapes and fails the property. */
function attempt(f: Fixture, headers: SignatureHeaders, request: RequestParts = REQUEST, now: Date = NOW): Outcome {
  try {
    const parsed = parseSignatureHeaders(headers, request);
    verifyRequestSignature(parsed, f.publicKey, f.alg, { now, windowSeconds: 300 });
    return { accepted: true };
  } catch (err) {
    if (!(err instanceof CovenantError)) throw err;
    expect(EXPECTED_TYPES.has(err.type)).toBe(true);
    return { accepted: false, error: err };
  }
}

const trimOws = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

const fixtureArb = fc.constantFrom(...FIXTURES);

/** Characters that matter to structured fields, plus a sprinkle of everything else. */
const sfChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...'"();=:,* -_./+\\?@%\t'.split('')) },
  { weight: 4, arbitrary: fc.constantFrom(...'abcxyzAQ019='.split('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

type Edit =
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'replace'; at: number; char: string }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: sfChar, minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: sfChar }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyEdit(value: string, edit: Edit): string {
  const at = value.length === 0 ? 0 : edit.at % (value.length + 1);
  switch (edit.kind) {
    case 'insert':
      return value.slice(0, at) + edit.text + value.slice(at);
    case 'delete':
      return value.slice(0, at) + value.slice(at + edit.length);
    case 'replace':
      return value.slice(0, at) + edit.char + value.slice(at + 1);
    case 'duplicate':
      return value.slice(0, at + edit.length) + value.slice(at);
    case 'truncate':
      return value.slice(0, at);
  }
}

describe('signed-request fuzzing', () => {
  it('sanity: the unmutated fixtures are accepted', () => {
    for (const f of FIXTURES) expect(attempt(f, f.headers)).toEqual({ accepted: true });
  });

  it('random field values only ever yield CovenantError', () => {
    const value = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: sfChar, maxLength: 300 }),
      fc.array(fc.string({ unit: sfChar, maxLength: 80 }), { maxLength: 4 }),
      fc.anything(),
    );
    const headersArb = fc.record(
      { 'signature-input': value, signature: value, 'content-digest': value, Signature: value, other: value },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fixtureArb, headersArb, (f, headers) => {
        expect(attempt(f, headers as SignatureHeaders).accepted).toBe(false);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('edited fields are accepted only when they still equal the originals', () => {
    fc.assert(
      fc.property(fixtureArb, fc.constantFrom(...FIELDS), fc.array(editArb, { minLength: 1, maxLength: 3 }), (f, field, edits) => {
        const mutated = edits.reduce(applyEdit, f.headers[field]);
        const outcome = attempt(f, { ...f.headers, [field]: mutated });
        if (outcome.accepted) expect(trimOws(mutated)).toBe(f.headers[field]);
      }),
      { numRuns: NUM_RUNS * 3 },
    );
  });

  it('fields split, repeated or swapped between one another are refused', () => {
    fc.assert(
      fc.property(
        fixtureArb,
        fc.array(fc.constantFrom(...FIELDS), { minLength: 3, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        (f, sources, repeat) => {
          const headers: Record<string, string | string[]> = {};
          FIELDS.forEach((field, i) => {
            const source = f.headers[sources[i] ?? field];
            headers[field] = repeat[i] ? [source, source] : source;
          });
          const outcome = attempt(f, headers);
          const unchanged = FIELDS.every((field, i) => sources[i] === field && !repeat[i]);
          expect(outcome.accepted).toBe(unchanged);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('well-formed but different Signature-Input members are refused', () => {
    const componentArb = fc.constantFrom('@method', '@path', '@query', 'content-digest', '@authority', '@target-uri', 'content-type', 'date');
    const bareArb: fc.Arbitrary<BareItem> = fc.oneof(
      fc.integer({ min: -1, max: 2 * NOW_S }),
      fc.constantFrom(NOW_S, NOW_S - 1, NOW_S + 1),
      fc.constantFrom(NONCE, 'alice', 'bob', 'ed25519', 'ecdsa-p256-sha256', ''),
      fc.string({ unit: fc.constantFrom(...'abcAZ09+/=_-'.split('')), maxLength: 40 }),
      fc.constantFrom(new Token('ed25519'), new Token('alice'), true, false),
    );
    const paramsArb = fc.array(fc.tuple(fc.constantFrom('created', 'nonce', 'keyid', 'alg', 'expires', 'tag'), bareArb), { maxLength: 6 });
    const componentParamsArb = fc.option(fc.constantFrom('sf', 'bs', 'req'), { nil: undefined });
    const memberArb = fc.record({
      label: fc.constantFrom('sig1', 'sig2', 'a'),
      components: fc.array(fc.tuple(componentArb, componentParamsArb), { maxLength: 6 }),
      params: paramsArb,
    });
    fc.assert(
      fc.property(fixtureArb, memberArb, (f, member) => {
        const items: Item[] = member.components.map(([name, param]) => [name, new Map(param === undefined ? [] : [[param, true]])]);
        const innerList: InnerList = [items, new Map(member.params)];
        const value = serializeDictionary(new Map([[member.label, innerList]]));
        const outcome = attempt(f, { ...f.headers, 'signature-input': value });
        if (outcome.accepted) expect(value).toBe(f.headers['signature-input']);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('random signatures of the right length never verify', () => {
    fc.assert(
      fc.property(fixtureArb, fc.uint8Array({ minLength: 64, maxLength: 64 }), (f, bytes) => {
        const signature = `sig1=:${Buffer.from(bytes).toString('base64')}:`;
        const outcome = attempt(f, { ...f.headers, signature });
        if (outcome.accepted) expect(signature).toBe(f.headers.signature);
        else expect(outcome.error.type).toBe('signature-invalid');
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('changed request parts are accepted only when unchanged', () => {
    const partArb = fc.record(
      {
        method: fc.oneof(fc.constantFrom('POST', 'PUT', 'post', 'GET'), fc.string({ maxLength: 12 })),
        path: fc.oneof(fc.constantFrom('/v1/tenants/acme/rollouts', '/v1/tenants/acme/rollouts/', '/'), fc.string({ unit: sfChar, maxLength: 40 })),
        query: fc.oneof(fc.constantFrom(undefined, '', 'wait=true', 'wait=false', '?wait=true'), fc.string({ unit: sfChar, maxLength: 40 })),
        body: fc.oneof(
          fc.constantFrom(REQUEST.body, '', undefined),
          fc.string({ maxLength: 60 }),
          fc.uint8Array({ maxLength: 60 }),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fixtureArb, partArb, (f, change) => {
        const request = { ...REQUEST, ...change } as RequestParts;
        const outcome = attempt(f, f.headers, request);
        const same =
          request.method === REQUEST.method &&
          request.path === REQUEST.path &&
          request.query === REQUEST.query &&
          Buffer.from(typeof request.body === 'string' ? request.body : (request.body ?? '')).equals(Buffer.from(REQUEST.body as string));
        expect(outcome.accepted).toBe(same);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('the time check is exactly |now - created| <= window', () => {
    fc.assert(
      fc.property(fixtureArb, fc.integer({ min: -400_000, max: 400_000 }), (f, offsetMs) => {
        const outcome = attempt(f, f.headers, REQUEST, new Date(NOW.getTime() + offsetMs));
        if (Math.abs(offsetMs) <= 300_000) expect(outcome.accepted).toBe(true);
        else expect(outcome.accepted === false && outcome.error.type).toBe('stale-request');
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
