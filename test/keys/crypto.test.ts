import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { flattenedDecrypt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../src/evidence/plugin.js';
import { decodeEvidence, decodeReport, simPlugin } from '../../src/evidence/sim/index.js';
import { encryptToTee } from '../../src/keys/jwe.js';
import { challengeNonceBytes, encodeChallengeNonce, KBS_PRIMARY_EVIDENCE, kbsEvidencePlugin } from '../../src/keys/kbs-evidence.js';
import { FileKms } from '../../src/keys/kms.js';
import { kbsReportData, parseKbsAttestation } from '../../src/keys/runtime-data.js';
import { inspectSealed, sealValue, unsealValue } from '../../src/keys/sealed.js';
import { parseTeeKey } from '../../src/keys/tee-key.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { expectedReportData } from '../../src/verifier/binding.js';
import { asyncRejection, expectRejected } from '../support/errors.js';

const ecJwk = (curve: 'P-256' | 'P-384' = 'P-256') => {
  const pair = generateKeyPairSync('ec', { namedCurve: curve });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  return { privateKey: pair.privateKey, jwk: { kty: 'EC', crv: curve, alg: 'ECDH-ES+A256KW', x: jwk.x!, y: jwk.y! } };
};

describe('the file KMS and sealed values', () => {
  const kms = new FileKms(new Uint8Array(randomBytes(32)));
  const context = { tenant: 'default', resource: 'default/key/db' };
  const value = new TextEncoder().encode('correct horse battery staple');

  it('wrap data keys under a key id that names the KEK, bound to a context', async () => {
    expect(kms.keyId).toMatch(/^file:[0-9a-f]{16}$/);
    const dataKey = new Uint8Array(randomBytes(32));
    const wrapped = await kms.wrapKey(dataKey, new Uint8Array([1]));
    expect(await kms.unwrapKey(kms.keyId, wrapped, new Uint8Array([1]))).toEqual(dataKey);
    expect((await asyncRejection(kms.unwrapKey(kms.keyId, wrapped, new Uint8Array([2])))).type).toBe('internal');
    expect((await asyncRejection(new FileKms(new Uint8Array(randomBytes(32))).unwrapKey(kms.keyId, wrapped, new Uint8Array([1])))).message).toMatch(/holds file:/);
  });

  it('seal a value so that only its digest, key id and size can be read without the KEK', async () => {
    const sealed = await sealValue(kms, context, value);
    expect(Buffer.from(sealed.body).includes(Buffer.from(value))).toBe(false);
    expect(Buffer.from(sealed.body).toString()).not.toContain(Buffer.from(value).toString('base64'));
    expect(inspectSealed(sealed.body)).toEqual({ digest: sealed.digest, kek: kms.keyId, size: value.length });
    expect(sealed.digest).toBe(`sha256:${createHash('sha256').update(sealed.body).digest('hex')}`);
    expect(await unsealValue(kms, context, sealed.body)).toEqual(value);
  });

  it('refuse a sealed value moved to another resource, altered, or not canonical', async () => {
    const sealed = await sealValue(kms, context, value);
    expect((await asyncRejection(unsealValue(kms, { ...context, resource: 'default/key/other' }, sealed.body))).type).toBe('internal');
    const document = JSON.parse(Buffer.from(sealed.body).toString()) as Record<string, string>;
    const flipped = Buffer.from(document['value']!, 'base64');
    flipped[20]! ^= 1;
    const altered = new TextEncoder().encode(JSON.stringify({ ...document, value: flipped.toString('base64') }));
    expect((await asyncRejection(unsealValue(kms, context, altered))).type).toBe('internal');
    expectRejected(() => inspectSealed(new TextEncoder().encode(JSON.stringify(document, null, 1))), 'validation-failed');
    expectRejected(() => inspectSealed(new TextEncoder().encode('not json')), 'validation-failed');
  });

  it('bound the size of a value', async () => {
    expect((await asyncRejection(sealValue(kms, context, new Uint8Array(0)))).type).toBe('validation-failed');
    expect((await asyncRejection(sealValue(kms, context, new Uint8Array(64 * 1024 + 1)))).type).toBe('validation-failed');
  });
});

describe('responses encrypted to the TEE key', () => {
  const plaintext = new TextEncoder().encode('the secret');

  for (const curve of ['P-256', 'P-384'] as const) {
    it(`use ECDH-ES+A256KW and A256GCM on ${curve}, as a flattened JWE`, async () => {
      const { jwk, privateKey } = ecJwk(curve);
      const jwe = await encryptToTee({ kty: 'EC', crv: curve, x: jwk.x, y: jwk.y }, plaintext);
      expect(Object.keys(jwe).sort()).toEqual(['ciphertext', 'encrypted_key', 'iv', 'protected', 'tag']);
      const header = decodeProtectedHeader(jwe);
      expect(header).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: { kty: 'EC', crv: curve } });
      expect((await flattenedDecrypt(jwe, privateKey)).plaintext).toEqual(plaintext);
    });
  }

  it('use RSA-OAEP-256 for an RSA key', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { n, e } = pair.publicKey.export({ format: 'jwk' });
    const jwe = await encryptToTee({ kty: 'RSA', n, e }, plaintext);
    expect(decodeProtectedHeader(jwe)).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM' });
    expect((await flattenedDecrypt(jwe, pair.privateKey)).plaintext).toEqual(plaintext);
  });

  it('refuse keys no secret can be encrypted to', async () => {
    const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    expect((await asyncRejection(encryptToTee({ kty: 'OKP', crv: 'Ed25519', x }, plaintext))).type).toBe('bad-request');
  });
});

describe('the TEE key of the runtime data', () => {
  it('takes exactly the kbs-types shapes', () => {
    expect(parseTeeKey(ecJwk().jwk).alg).toBe('ECDH-ES+A256KW');
    expect(parseTeeKey(ecJwk('P-384').jwk).spki.length).toBeGreaterThan(90);
    const { n, e } = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    expect(parseTeeKey({ kty: 'RSA', alg: 'RSA-OAEP-256', n, e }).alg).toBe('RSA-OAEP-256');
  });

  it('refuses anything else, naming why', () => {
    const { jwk } = ecJwk();
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    for (const [bad, why] of [
      [{ ...jwk, use: 'enc' }, /unexpected member/],
      [{ ...jwk, alg: 'ECDH-ES' }, /alg must be ECDH-ES\+A256KW/],
      [{ ...jwk, crv: 'P-521' }, /crv/],
      [{ ...jwk, x: jwk.x.slice(1) }, /x must be 43/],
      [{ ...jwk, x: `${jwk.x.slice(1)}!` }, /x must be 43/],
      [{ kty: 'RSA', alg: 'RSA-OAEP-256', n: small.n, e: small.e }, /2048 to 8192/],
      [{ kty: 'RSA', alg: 'RSA1_5', n: small.n, e: small.e }, /alg must be RSA-OAEP-256/],
      [{ kty: 'OKP', crv: 'X25519', x: jwk.x }, /kty must be EC or RSA/],
      ['a string', /kty must be EC or RSA/],
    ] as const) {
      expectRejected(() => parseTeeKey(bad), 'bad-request', why);
    }
  });
});

describe('the KBS runtime data binding', () => {
  const { jwk } = ecJwk();
  const nonce = encodeChallengeNonce(new Uint8Array(randomBytes(32)));
  const message = (extra: Record<string, unknown> = {}, evidence: Record<string, unknown> = { primary_evidence: {} }) =>
    new TextEncoder().encode(JSON.stringify({ 'runtime-data': { nonce, 'tee-pubkey': jwk }, 'tee-evidence': evidence, ...extra }));

  it('hashes the canonical {"nonce", "tee-pubkey"} with SHA-384 into 64 bytes of report data', () => {
    const parsed = parseKbsAttestation(message());
    const canonical = `{"nonce":${JSON.stringify(nonce)},"tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}}`;
    const expected = Buffer.concat([createHash('sha384').update(canonical).digest(), Buffer.alloc(16)]);
    expect(Buffer.from(kbsReportData(parsed.runtimeData))).toEqual(expected);
  });

  it('also accepts Trustee’s spelling, with an empty "additional-evidence"', () => {
    const parsed = parseKbsAttestation(message({}, { primary_evidence: {}, additional_evidence: '' }));
    expect(parsed.runtimeData).toEqual({ nonce, 'tee-pubkey': jwk });
    expect(parsed.runtimeDataForms).toEqual([{ nonce, 'tee-pubkey': jwk }, { nonce, 'tee-pubkey': jwk, 'additional-evidence': '' }]);
  });

  it('refuses what it cannot check, and malformed messages', () => {
    expectRejected(() => parseKbsAttestation(message({ 'init-data': { format: 'toml', body: 'x' } })), 'bad-request', /init-data/);
    expectRejected(() => parseKbsAttestation(message({}, { primary_evidence: {}, additional_evidence: '{"tdx":{}}' })), 'bad-request', /device evidence/);
    expectRejected(() => parseKbsAttestation(message({ extra: 1 })), 'bad-request');
    expectRejected(() => parseKbsAttestation(new TextEncoder().encode('{')), 'bad-request', /not valid JSON/);
  });

  it('reads only the canonical spelling of a challenge nonce', () => {
    const bytes = new Uint8Array(randomBytes(32));
    expect(challengeNonceBytes(encodeChallengeNonce(bytes))).toEqual(bytes);
    expect(challengeNonceBytes(Buffer.from(bytes).toString('base64url'))).toBeUndefined();
    expect(challengeNonceBytes('')).toBeUndefined();
    expect(challengeNonceBytes('AB==')).toBeUndefined();
  });
});

describe('KBS evidence through an evidence plugin', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const root = createVendorRoot({ now });
  const tee = new SimulatedTee(issuePlatformIdentity(root, { now, platformId: 'p' }), { measurement: `sha256:${'ab'.repeat(32)}`, svn: 1, debug: false, configDigests: {} });
  const plugin = kbsEvidencePlugin(simPlugin, KBS_PRIMARY_EVIDENCE.sim!);
  const context = { now, trustAnchors: [root.certificate] };
  const nonceBytes = new Uint8Array(randomBytes(32));
  const { jwk } = ecJwk();
  const runtime = { nonce: encodeChallengeNonce(nonceBytes), 'tee-pubkey': jwk };
  const document = (reportData: Uint8Array, runtimeData: Record<string, unknown> = runtime) =>
    new TextEncoder().encode(JSON.stringify({ 'runtime-data': runtimeData, 'tee-evidence': { primary_evidence: JSON.parse(new TextDecoder().decode(tee.reportOver(reportData))) as unknown } }));

  it('restates a verified runtime-data binding as the verifier binds nonce and key', async () => {
    const claims = await plugin.verify(document(kbsReportData(runtime)), context);
    expect(claims.reportData).toBe(Buffer.from(expectedReportData('sim', nonceBytes, parseTeeKey(jwk).spki)).toString('hex'));
    expect(claims.details['kbsReportData']).toBe(Buffer.from(kbsReportData(runtime)).toString('hex'));
    expect(claims.measurements).toEqual([{ alg: 'sha256', hex: 'ab'.repeat(32) }]);
    expect(plugin.mediaTypes).toEqual(['application/vnd.covenant.kbs-attestation+json; tee=sim']);
  });

  it('accepts evidence over Trustee’s spelling of the same runtime data', async () => {
    const claims = await plugin.verify(document(kbsReportData({ ...runtime, 'additional-evidence': '' })), context);
    expect(claims.reportData).toBe(Buffer.from(expectedReportData('sim', nonceBytes, parseTeeKey(jwk).spki)).toString('hex'));
  });

  it('refuses evidence over other runtime data, or a key it does not name', async () => {
    const other = { ...runtime, 'tee-pubkey': ecJwk().jwk };
    const error = await asyncRejection(plugin.verify(document(kbsReportData(other)), context), EvidenceError);
    expect(error.reason).toBe('nonce');
    const padded = kbsReportData(runtime).slice();
    padded[63] = 1;
    expect((await asyncRejection(plugin.verify(document(padded), context), EvidenceError)).reason).toBe('nonce');
  });

  it('refuses a nonce that is not one the broker issued', async () => {
    const odd = { ...runtime, nonce: Buffer.from(nonceBytes).toString('base64url') };
    expect((await asyncRejection(plugin.verify(document(kbsReportData(odd), odd), context), EvidenceError)).reason).toBe('nonce');
  });

  it('takes report data of exactly 64 bytes from the simulated TEE', () => {
    expectRejected(() => tee.reportOver(new Uint8Array(63)), 'validation-failed', /64 bytes/);
    expect(decodeReport(decodeEvidence(tee.reportOver(new Uint8Array(64).fill(7))).report).reportData).toBe('07'.repeat(64));
  });

  it('leaves the inner evidence to its plugin', async () => {
    const evidence = JSON.parse(new TextDecoder().decode(tee.reportOver(kbsReportData(runtime)))) as Record<string, string>;
    const report = decodeReport(decodeEvidence(tee.reportOver(kbsReportData(runtime))).report);
    expect(report.reportData).toBe(Buffer.from(kbsReportData(runtime)).toString('hex'));
    const forged = new TextEncoder().encode(JSON.stringify({ 'runtime-data': runtime, 'tee-evidence': { primary_evidence: { ...evidence, signature: Buffer.alloc(64).toString('base64') } } }));
    expect((await asyncRejection(plugin.verify(forged, context), EvidenceError)).reason).toBe('signature');
    expect((await asyncRejection(plugin.verify(new TextEncoder().encode('[]'), context), EvidenceError)).reason).toBe('malformed');
  });
});
