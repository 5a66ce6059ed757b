import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import { decodeTcb, parseReport, policyAllowsDebug, productFromCpuid, REPORT_SIZE } from '../../../src/evidence/sev-snp/report.js';
import { AZURE_V3, MILAN_V2, VLEK_V3 } from './fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function parseError(bytes: Uint8Array): EvidenceError {
  try {
    parseReport(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(EvidenceError);
    return err as EvidenceError;
  }
  throw new Error('expected a rejection');
}

function withVersion(bytes: Uint8Array, version: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(0, version, true);
  return copy;
}

describe('parseReport: go-sev-guest Milan v2', () => {
  const r = parseReport(MILAN_V2.report());

  it('reads the fields the vector README documents', () => {
    expect(r.version).toBe(2);
    expect(r.vmpl).toBe(0);
    expect(r.signatureAlgo).toBe(1);
    expect(r.guestSvn).toBe(0);
    expect(r.policy).toBe(0xb0000n);
    expect(policyAllowsDebug(r.policy)).toBe(true);
    expect(r.platformInfo).toBe(1n);
    expect(r.signingKey).toBe('vcek');
    for (const t of [r.currentTcb, r.reportedTcb, r.committedTcb, r.launchTcb]) {
      expect(t).toEqual({ raw: '4405000000000002', bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    }
    expect(r.currentVersion).toEqual({ major: 1, minor: 49, build: 3 });
    expect(hex(r.reportData)).toBe('0102030405' + '00'.repeat(59));
    expect(hex(r.measurement)).toBe('b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01');
    expect(r.hostData.every((b) => b === 0)).toBe(true);
    expect(r.idKeyDigest.every((b) => b === 0)).toBe(true);
    expect(r.authorKeyDigest.every((b) => b === 0)).toBe(true);
    expect(hex(r.chipId)).toBe(
      '3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d',
    );
    expect(r.cpuid).toBeUndefined();
    expect(r.tcbLayout).toBe('milan-genoa');
  });

  it('turns the little-endian 72-byte r and s into 48-byte big-endian scalars', () => {
    const raw = MILAN_V2.report();
    expect(hex(r.signatureR)).toBe(hex(raw.slice(0x2a0, 0x2a0 + 48).reverse()));
    expect(hex(r.signatureS)).toBe(hex(raw.slice(0x2e8, 0x2e8 + 48).reverse()));
    expect(r.signatureHighBytesZero).toBe(true);
  });
});

describe('parseReport: trustee VLEK v3', () => {
  const r = parseReport(VLEK_V3.report());

  it('reads version 3 fields, the VLEK flag and the masked chip id', () => {
    expect(r.version).toBe(3);
    expect(r.vmpl).toBe(1);
    expect(r.policy).toBe(0x30000n);
    expect(r.flags).toBe(4);
    expect(r.signingKey).toBe('vlek');
    expect(r.chipId.every((b) => b === 0)).toBe(true);
    expect(r.currentTcb).toMatchObject({ bootloader: 4, tee: 0, snp: 24, microcode: 220 });
    expect(r.reportedTcb).toMatchObject({ bootloader: 4, tee: 0, snp: 24, microcode: 217 });
    expect(r.committedTcb.microcode).toBe(219);
    expect(r.launchTcb.microcode).toBe(219);
    expect(hex(r.reportData)).toBe(
      '819770b7e6ea6df8dd8fd4dd146b073c0bf4f3ce5b0977ecac486e3a05ed1bd54e2a7ac1f5d1ca02e7d7d5ef9f73b8574fd9359e3a480d741a4478e8a7bc27ca',
    );
    expect(hex(r.measurement)).toBe('8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0');
    expect(r.cpuid).toEqual({ family: 0x19, model: 0x01, stepping: 0x01 });
    expect(r.product).toBe('Milan');
    expect(r.launchMitVector).toBeUndefined();
  });
});

describe('parseReport: Azure Milan v3 (derived from the HCL report)', () => {
  it('reads the policy and TCB its README documents', () => {
    const r = parseReport(AZURE_V3.report());
    expect(r.version).toBe(3);
    expect(r.vmpl).toBe(0);
    expect(r.policy).toBe(0x3001fn);
    expect(r.reportedTcb).toMatchObject({ bootloader: 4, tee: 0, snp: 24, microcode: 219 });
    expect(r.guestSvn).toBe(10);
  });
});

describe('parseReport: versions', () => {
  it.each([3, 4])('parses version %i with the version-3 layout', (v) => {
    const r = parseReport(withVersion(MILAN_V2.report(), v));
    expect(r.version).toBe(v);
    expect(r.cpuid).toBeDefined();
    expect(r.launchMitVector).toBeUndefined();
  });

  it('parses version 5 and its mitigation vectors', () => {
    const bytes = withVersion(VLEK_V3.report(), 5);
    new DataView(bytes.buffer).setBigUint64(0x1f8, 0x11n, true);
    new DataView(bytes.buffer).setBigUint64(0x200, 0x2200n, true);
    const r = parseReport(bytes);
    expect(r.launchMitVector).toBe('0000000000000011');
    expect(r.currentMitVector).toBe('0000000000002200');
    expect(r.reportedTcb.microcode).toBe(217);
  });

  it.each([0, 1, 6, 7, 0x100, 0xffffffff])('refuses version %i by name as unsupported', (v) => {
    const err = parseError(withVersion(MILAN_V2.report(), v));
    expect(err.reason).toBe('unsupported');
    expect(err.message).toContain(`unknown SEV-SNP report version ${v}`);
  });
});

describe('parseReport: malformed input', () => {
  it.each([0, 1, 0x2a0, REPORT_SIZE - 1, REPORT_SIZE + 1, 4096])('refuses %i bytes as malformed', (n) => {
    const bytes = new Uint8Array(n);
    if (n >= 4) new DataView(bytes.buffer).setUint32(0, 2, true);
    expect(parseError(bytes).reason).toBe('malformed');
  });

  it('refuses a reserved SIGNING_KEY value', () => {
    const bytes = MILAN_V2.report();
    bytes[0x48] = 2 << 2;
    const err = parseError(bytes);
    expect(err.reason).toBe('unsupported');
    expect(err.message).toMatch(/SIGNING_KEY 2/);
  });

  it('flags r/s fields whose high bytes are set', () => {
    const bytes = MILAN_V2.report();
    bytes[0x2a0 + 60] = 1;
    expect(parseReport(bytes).signatureHighBytesZero).toBe(false);
  });

  it('works on a view into a larger buffer', () => {
    const big = new Uint8Array(REPORT_SIZE + 16);
    big.set(MILAN_V2.report(), 16);
    expect(parseReport(big.subarray(16)).measurement).toEqual(parseReport(MILAN_V2.report()).measurement);
  });
});

describe('TCB layouts and CPUID products', () => {
  const bytes = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);

  it('decodes Milan/Genoa as bl, tee, reserved×4, snp, ucode', () => {
    expect(decodeTcb(bytes, 'milan-genoa')).toEqual({ raw: '0807060504030201', bootloader: 1, tee: 2, snp: 7, microcode: 8 });
  });

  it('decodes Turin as fmc, bl, tee, snp, reserved×3, ucode', () => {
    expect(decodeTcb(bytes, 'turin')).toEqual({ raw: '0807060504030201', fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 8 });
  });

  it('uses the Turin layout for a v3 report from family 1Ah', () => {
    const report = withVersion(VLEK_V3.report(), 3);
    report[0x188] = 0x1a;
    report[0x189] = 0x02;
    const r = parseReport(report);
    expect(r.tcbLayout).toBe('turin');
    expect(r.product).toBe('Turin');
    expect(r.reportedTcb.fmc).toBe(4);
  });

  it.each([
    [0x19, 0x01, 'Milan'],
    [0x19, 0x11, 'Genoa'],
    [0x19, 0xa0, 'Genoa'],
    [0x1a, 0x00, 'Turin'],
    [0x1a, 0x11, 'Turin'],
    [0x19, 0x30, undefined],
    [0x17, 0x01, undefined],
  ])('family %i model %i → %s', (family, model, product) => {
    expect(productFromCpuid({ family, model, stepping: 0 })).toBe(product);
  });
});
