import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { CovenantError, type ProblemType } from '../../src/core/errors.js';
import {
  generateMemberKey,
  keyThumbprint,
  loadPrivateKey,
  MEMBER_KEY_ALGS,
  memberAlgOfKey,
  parseMemberPublicKey,
  type MemberKeyAlg,
} from '../../src/ceremony/member-key.js';
import { RFC_ED25519_PRIVATE_PEM, RFC_ED25519_PUBLIC_PEM, RFC_P256_PUBLIC_PEM } from '../fixtures/rfc9421-keys.js';

const RFC_P256_PRIVATE_SEC1_PEM = [
  '-----BEGIN EC PRIVATE KEY-----',
  'MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49',
  'AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM',
  '4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==',
  '-----END EC PRIVATE KEY-----',
].join('\n');

function expectProblem(fn: () => unknown, type: ProblemType): CovenantError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CovenantError);
    expect((err as CovenantError).type).toBe(type);
    return err as CovenantError;
  }
  throw new Error('expected a CovenantError, but the call succeeded');
}

const spkiOf = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64');

describe.each(MEMBER_KEY_ALGS)('generateMemberKey(%s)', (alg) => {
  const generated = generateMemberKey(alg);

  it('returns a PKCS#8 PEM private key and a base64 DER SPKI public key', () => {
    expect(generated.alg).toBe(alg);
    expect(generated.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n?$/);
    expect(generated.publicKey).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(generated.publicKey, 'base64').toString('base64')).toBe(generated.publicKey);
  });

  it('produces keys that load back with the same algorithm and sign/verify together', () => {
    const priv = loadPrivateKey(generated.privateKeyPem);
    const pub = parseMemberPublicKey(generated.publicKey);
    expect(priv.alg).toBe(alg);
    expect(pub.alg).toBe(alg);
    expect(pub.spki).toBe(generated.publicKey);
    const data = Buffer.from('covenant');
    const options = alg === 'ed25519' ? { digest: null, key: {} } : { digest: 'sha256', key: { dsaEncoding: 'ieee-p1363' as const } };
    const signature = cryptoSign(options.digest, data, { key: priv.key, ...options.key });
    expect(cryptoVerify(options.digest, data, { key: pub.key, ...options.key }, signature)).toBe(true);
  });

  it('generates a different key every time', () => {
    expect(generateMemberKey(alg).publicKey).not.toBe(generated.publicKey);
  });
});

describe('generateMemberKey input', () => {
  it('refuses algorithms outside the member set (e.g. from untyped CLI input)', () => {
    expectProblem(() => generateMemberKey('rsa-pss-sha512' as MemberKeyAlg), 'validation-failed');
  });
});

describe('parseMemberPublicKey', () => {
  it.each([
    ['ed25519', RFC_ED25519_PUBLIC_PEM],
    ['ecdsa-p256-sha256', RFC_P256_PUBLIC_PEM],
  ] as const)('accepts the RFC 9421 %s test key as PEM and as base64 DER', (alg, pem) => {
    const fromPem = parseMemberPublicKey(pem);
    const fromDer = parseMemberPublicKey(spkiOf(pem));
    expect(fromPem.alg).toBe(alg);
    expect(fromDer.alg).toBe(alg);
    expect(fromPem.spki).toBe(fromDer.spki);
    expect(fromPem.key.type).toBe('public');
  });

  it('tolerates surrounding whitespace and CRLF line endings', () => {
    expect(parseMemberPublicKey(`\n  ${RFC_P256_PUBLIC_PEM.replace(/\n/g, '\r\n')}\r\n`).alg).toBe('ecdsa-p256-sha256');
    expect(parseMemberPublicKey(` ${spkiOf(RFC_ED25519_PUBLIC_PEM)}\n`).alg).toBe('ed25519');
  });

  it('returns the canonical SPKI even for a compressed P-256 point', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const uncompressed = publicKey.export({ format: 'jwk' });
    const x = Buffer.from(uncompressed.x ?? '', 'base64url');
    const y = Buffer.from(uncompressed.y ?? '', 'base64url');
    const compressedPoint = Buffer.concat([Buffer.from([(y.at(-1) ?? 0) & 1 ? 3 : 2]), x]);
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 0x00, point } }
    const algId = Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex');
    const bitString = Buffer.concat([Buffer.from([0x03, compressedPoint.length + 1, 0x00]), compressedPoint]);
    const der = Buffer.concat([Buffer.from([0x30, algId.length + bitString.length]), algId, bitString]);
    const parsed = parseMemberPublicKey(der.toString('base64'));
    expect(parsed.alg).toBe('ecdsa-p256-sha256');
    expect(parsed.spki).toBe(publicKey.export({ type: 'spki', format: 'der' }).toString('base64'));
  });

  it.each([
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
    ['Ed448', () => generateKeyPairSync('ed448').publicKey],
    ['X25519', () => generateKeyPairSync('x25519').publicKey],
  ])('refuses %s keys in both encodings', (_kind, make) => {
    const key = make();
    const pem = key.export({ type: 'spki', format: 'pem' }).toString();
    const der = key.export({ type: 'spki', format: 'der' }).toString('base64');
    for (const text of [pem, der]) {
      const err = expectProblem(() => parseMemberPublicKey(text), 'validation-failed');
      expect(err.issues[0]?.field).toBe('publicKey');
    }
  });

  it('refuses a private key, even though a public key could be derived from it', () => {
    expectProblem(() => parseMemberPublicKey(RFC_ED25519_PRIVATE_PEM), 'validation-failed');
    expectProblem(() => parseMemberPublicKey(RFC_P256_PRIVATE_SEC1_PEM), 'validation-failed');
    // The base64 body of the PKCS#8 key, offered as if it were an SPKI.
    expectProblem(() => parseMemberPublicKey(RFC_ED25519_PRIVATE_PEM.split('\n')[1] ?? ''), 'validation-failed');
  });

  it.each([
    ['empty', ''],
    ['whitespace', '   \n'],
    ['not base64', 'this is not a key'],
    ['non-canonical base64 (trailing bits)', 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bt='],
    ['base64 with junk in the middle', 'MCowBQYDK2VwAyEA!JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs='],
    ['unpadded base64', 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs'],
    ['truncated DER', 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9'],
    ['a PEM with mismatched labels', RFC_ED25519_PUBLIC_PEM.replace('END PUBLIC KEY', 'END CERTIFICATE')],
    ['a PKCS#1 RSA PEM label', RFC_ED25519_PUBLIC_PEM.replaceAll('PUBLIC KEY', 'RSA PUBLIC KEY')],
    ['a PEM with headers', RFC_ED25519_PUBLIC_PEM.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n')],
    ['two PEM blocks', `${RFC_ED25519_PUBLIC_PEM}\n${RFC_P256_PUBLIC_PEM}`],
    ['an oversized input', 'A'.repeat(8192)],
  ])('refuses %s', (_what, text) => {
    expectProblem(() => parseMemberPublicKey(text), 'validation-failed');
  });

  it('refuses non-string input without throwing anything else', () => {
    expectProblem(() => parseMemberPublicKey(42 as unknown as string), 'validation-failed');
    expectProblem(() => parseMemberPublicKey(undefined as unknown as string), 'validation-failed');
  });
});

describe('loadPrivateKey', () => {
  it('loads the RFC 9421 test keys (PKCS#8 Ed25519 and SEC1 P-256)', () => {
    expect(loadPrivateKey(RFC_ED25519_PRIVATE_PEM).alg).toBe('ed25519');
    const p256 = loadPrivateKey(RFC_P256_PRIVATE_SEC1_PEM);
    expect(p256.alg).toBe('ecdsa-p256-sha256');
    expect(p256.key.type).toBe('private');
    expect(memberAlgOfKey(p256.key)).toBe('ecdsa-p256-sha256');
  });

  it('refuses other key kinds, public keys and garbage', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const pem of [rsa, p384, RFC_P256_PUBLIC_PEM, '', 'not a pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', 'A'.repeat(9000)]) {
      const err = expectProblem(() => loadPrivateKey(pem), 'validation-failed');
      expect(err.issues[0]?.field).toBe('privateKey');
    }
  });

  it('refuses an encrypted private key (no passphrase prompts here)', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'hunter2' }).toString();
    expectProblem(() => loadPrivateKey(encrypted), 'validation-failed');
  });

  it('never puts the key material into the error', () => {
    const almost = RFC_ED25519_PRIVATE_PEM.replace('MC4CAQAw', 'MC4CAQAx');
    const err = expectProblem(() => loadPrivateKey(almost), 'validation-failed');
    expect(err.message).not.toContain('MC4CAQA');
    expect(JSON.stringify(err.issues)).not.toContain('MC4CAQA');
    expect(err.cause).toBeUndefined();
  });
});

describe('keyThumbprint', () => {
  it('is the hex SHA-256 of the DER SPKI', () => {
    const spki = spkiOf(RFC_ED25519_PUBLIC_PEM);
    const expected = createHash('sha256').update(Buffer.from(spki, 'base64')).digest('hex');
    expect(keyThumbprint(spki)).toBe(expected);
    expect(keyThumbprint(spki)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tells different keys apart and is stable for the same key', () => {
    const a = generateMemberKey('ed25519').publicKey;
    const b = generateMemberKey('ed25519').publicKey;
    expect(keyThumbprint(a)).toBe(keyThumbprint(a));
    expect(keyThumbprint(a)).not.toBe(keyThumbprint(b));
  });

  it('agrees for a PEM-registered key and its base64 form', () => {
    expect(keyThumbprint(parseMemberPublicKey(RFC_P256_PUBLIC_PEM).spki)).toBe(keyThumbprint(spkiOf(RFC_P256_PUBLIC_PEM)));
  });

  it('refuses text that is not canonical base64', () => {
    expectProblem(() => keyThumbprint('not base64!'), 'validation-failed');
    expectProblem(() => keyThumbprint(''), 'validation-failed');
  });
});
