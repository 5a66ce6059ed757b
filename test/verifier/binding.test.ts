import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { bindingFor, bindingMatches, REPORT_DATA_BYTES, simPlugin } from '../../../src/evidence/sim/index.js';
import { SimulatedTee, bindingFor as teeBindingFor } from '../../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../../src/sim/vendor.js';

const spkiOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

describe('bindingFor', () => {
  it('is SHA-512 over nonce ‖ SPKI DER (known answer)', () => {
    // Independent computation: one hash over the concatenated buffer.
    const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const spki = Buffer.from('302a300506032b6570032100' + '42'.repeat(32), 'hex');
    const expected = createHash('sha512').update(Buffer.concat([nonce, spki])).digest();
    expect(Buffer.from(bindingFor(nonce, spki))).toEqual(expected);
    expect(bindingFor(nonce, spki)).toHaveLength(REPORT_DATA_BYTES);
  });

  it('is the same function the attester uses', () => {
    expect(teeBindingFor).toBe(bindingFor);
  });

  it('matches only the same nonce and key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 128 }), fc.nat(), (nonce, spki, at) => {
        const hex = Buffer.from(bindingFor(nonce, spki)).toString('hex');
        expect(bindingMatches(hex, nonce, spki)).toBe(true);
        expect(bindingMatches(hex.toUpperCase(), nonce, spki)).toBe(true);
        const otherSpki = new Uint8Array(spki);
        otherSpki[at % spki.length] = (otherSpki[at % spki.length] as number) ^ 1;
        expect(bindingMatches(hex, nonce, otherSpki)).toBe(false);
        expect(bindingMatches(hex, new Uint8Array([...nonce, 0]), spki)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('never matches a reportData that is not 128 hex digits', () => {
    const nonce = new Uint8Array(8);
    const spki = new Uint8Array(4);
    const hex = Buffer.from(bindingFor(nonce, spki)).toString('hex');
    expect(bindingMatches(hex.slice(2), nonce, spki)).toBe(false);
    expect(bindingMatches(`${hex}00`, nonce, spki)).toBe(false);
    expect(bindingMatches(`zz${hex.slice(2)}`, nonce, spki)).toBe(false);
    expect(bindingMatches('', nonce, spki)).toBe(false);
  });

  it('a verifier recomputes the binding from the verified claims', async () => {
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
    expect(claims.reportData).toBe(Buffer.from(bindingFor(nonce, spkiOf(instance.publicKey))).toString('hex'));
    expect(bindingMatches(claims.reportData as string, nonce, spkiOf(instance.publicKey))).toBe(true);
    expect(bindingMatches(claims.reportData as string, nonce, spkiOf(stranger.publicKey))).toBe(false);
    expect(bindingMatches(claims.reportData as string, new Uint8Array(32), spkiOf(instance.publicKey))).toBe(false);
  });
});
