import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { EvidenceError, type Claims } from '../../src/evidence/plugin.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { checkBinding, expectedReportData } from '../../src/verifier/binding.js';
import { rejection } from '../support/errors.js';

const spkiOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

const claimsWith = (teeClass: Claims['teeClass'], reportData: string | undefined): Claims => ({
  teeClass,
  measurements: [],
  debug: false,
  config: {},
  details: {},
  ...(reportData === undefined ? {} : { reportData }),
});

describe('expectedReportData', () => {
  const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const spki = Buffer.from('302a300506032b6570032100' + '42'.repeat(32), 'hex');

  it('is SHA-512 over nonce ‖ SPKI DER for sim and sev-snp (known answer)', () => {
    // Independent computation: one hash over the concatenated buffer.
    const expected = createHash('sha512').update(Buffer.concat([nonce, spki])).digest();
    expect(Buffer.from(expectedReportData('sim', nonce, spki))).toEqual(expected);
    expect(Buffer.from(expectedReportData('sev-snp', nonce, spki))).toEqual(expected);
  });

  it('is SHA-256 over nonce ‖ SPKI DER for tpm, which fits every TPM2B_DATA', () => {
    const expected = createHash('sha256').update(Buffer.concat([nonce, spki])).digest();
    expect(Buffer.from(expectedReportData('tpm', nonce, spki))).toEqual(expected);
  });
});

describe('checkBinding', () => {
  it('accepts only the same nonce and key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 128 }), fc.nat(), fc.constantFrom('sim', 'sev-snp', 'tpm' as const), (nonce, spki, at, tee) => {
        const hex = Buffer.from(expectedReportData(tee, nonce, spki)).toString('hex');
        expect(() => checkBinding(claimsWith(tee, hex), nonce, spki)).not.toThrow();
        expect(() => checkBinding(claimsWith(tee, hex.toUpperCase()), nonce, spki)).not.toThrow();
        const otherSpki = new Uint8Array(spki);
        otherSpki[at % spki.length] = (otherSpki[at % spki.length] as number) ^ 1;
        expect(() => checkBinding(claimsWith(tee, hex), nonce, otherSpki)).toThrow(EvidenceError);
        expect(() => checkBinding(claimsWith(tee, hex), new Uint8Array([...nonce, 0]), spki)).toThrow(EvidenceError);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses report data of the wrong length or encoding, or none, as a nonce failure', () => {
    const nonce = new Uint8Array(8);
    const spki = new Uint8Array(4);
    const hex = Buffer.from(expectedReportData('sim', nonce, spki)).toString('hex');
    for (const reportData of [hex.slice(2), `${hex}00`, `zz${hex.slice(2)}`, '', `${hex.slice(1)}`, undefined]) {
      expect(rejection(() => checkBinding(claimsWith('sim', reportData), nonce, spki), EvidenceError).reason).toBe('nonce');
    }
    // The tpm binding is not the sim one: a class cannot borrow another's hash.
    expect(rejection(() => checkBinding(claimsWith('tpm', hex), nonce, spki), EvidenceError).reason).toBe('nonce');
  });

  it('holds for a report the sim attester made and the sim plugin verified', async () => {
    const now = new Date('2025-03-01T00:00:00Z');
    const root = createVendorRoot({ now });
    const tee = new SimulatedTee(issuePlatformIdentity(root, { now, platformId: 'p1' }), {
      measurement: `sha256:${'aa'.repeat(32)}`,
      svn: 1,
      debug: false,
      configDigests: {},
    });
    const instance = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519');
    const nonce = new Uint8Array(32).fill(0x5a);
    const claims = await simPlugin.verify(tee.report(nonce, spkiOf(instance.publicKey)), { now, trustAnchors: [root.certificate] });
    expect(() => checkBinding(claims, nonce, spkiOf(instance.publicKey))).not.toThrow();
    expect(() => checkBinding(claims, nonce, spkiOf(stranger.publicKey))).toThrow(EvidenceError);
    expect(() => checkBinding(claims, new Uint8Array(32), spkiOf(instance.publicKey))).toThrow(EvidenceError);
  });
});
