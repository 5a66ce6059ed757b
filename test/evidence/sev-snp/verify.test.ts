import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import { parseReport } from '../../../src/evidence/sev-snp/report.js';
import type { TcbVersion } from '../../../src/evidence/sev-snp/report.js';
import { checkEndorsement, compareChipId, compareTcb, verifyReportSignature } from '../../../src/evidence/sev-snp/verify.js';
import { MILAN_V2, VLEK_V3, xorAt } from './fixtures.js';
import { rejection } from '../../support/errors.js';

const reported: TcbVersion = { raw: 'd918000000000004', bootloader: 4, tee: 0, snp: 24, microcode: 217 };
const matching = { bootloader: 4, tee: 0, snp: 24, microcode: 217 };

const thrown = (fn: () => unknown): EvidenceError => rejection(fn, EvidenceError);

describe('compareTcb (pure)', () => {
  it('agrees when every SPL equals the reported component', () => {
    expect(compareTcb(reported, matching)).toEqual([]);
  });

  it.each([
    ['bootloader', { ...matching, bootloader: 5 }, /bootloader \(blSPL\): report 4, certificate 5/],
    ['tee', { ...matching, tee: 1 }, /tee \(teeSPL\)/],
    ['snp', { ...matching, snp: 23 }, /snp \(snpSPL\): report 24, certificate 23/],
    ['microcode', { ...matching, microcode: 219 }, /microcode \(ucodeSPL\): report 217, certificate 219/],
  ])('names a %s mismatch', (_name, spl, message) => {
    const problems = compareTcb(reported, spl);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('counts a missing extension as a mismatch', () => {
    expect(compareTcb(reported, { tee: 0, snp: 24, microcode: 217 })).toEqual(['bootloader (blSPL): certificate has no such extension']);
  });

  it('compares FMC only for Turin-layout TCBs', () => {
    const turin: TcbVersion = { ...reported, fmc: 3 };
    expect(compareTcb(turin, { ...matching, fmc: 3 })).toEqual([]);
    expect(compareTcb(turin, matching)).toEqual(['fmc (fmcSPL): certificate has no such extension']);
    expect(compareTcb(reported, { ...matching, fmc: 9 })).toEqual([]);
  });

  it('reproduces the upstream "corrupt byte 384" TCB failure on the VLEK vector', () => {
    const bytes = VLEK_V3.report();
    xorAt(bytes, 384, 0x01);
    expect(compareTcb(parseReport(bytes).reportedTcb, matching)).toEqual(['bootloader (blSPL): report 5, certificate 4']);
    expect(compareTcb(parseReport(VLEK_V3.report()).reportedTcb, matching)).toEqual([]);
  });
});

describe('compareChipId (pure)', () => {
  const chip = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

  it('matches a 64-byte hwID', () => {
    expect(compareChipId(chip, chip.slice())).toBeUndefined();
  });

  it('matches an 8-byte Turin hwID against 8 bytes followed by zeros', () => {
    const turinChip = new Uint8Array(64);
    turinChip.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(compareChipId(turinChip, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toBeUndefined();
    expect(compareChipId(chip, chip.slice(0, 8))).toMatch(/differs/);
  });

  it('reports a differing or absent hwID', () => {
    const other = chip.slice();
    xorAt(other, 63, 1);
    expect(compareChipId(chip, other)).toMatch(/differs/);
    expect(compareChipId(chip, undefined)).toMatch(/no hwID/);
  });
});

describe('checkEndorsement', () => {
  const milan = parseReport(MILAN_V2.report());
  const milanExt = { bootloader: 2, tee: 0, snp: 5, microcode: 68, hwId: milan.chipId };

  it('passes for the Milan report and its VCEK values, checking the chip id', () => {
    expect(checkEndorsement(milan, 'vcek', milanExt)).toEqual({ chipIdChecked: true });
  });

  it('refuses a VCEK for another chip', () => {
    const hwId = milan.chipId.slice();
    xorAt(hwId, 0, 1);
    const err = thrown(() => checkEndorsement(milan, 'vcek', { ...milanExt, hwId }));
    expect(err.reason).toBe('endorsement-mismatch');
    expect(err.message).toMatch(/CHIP_ID/);
  });

  it('does not compare the chip id of VLEK reports', () => {
    const vlek = parseReport(VLEK_V3.report());
    expect(checkEndorsement(vlek, 'vlek', matching)).toEqual({ chipIdChecked: false });
  });

  it('lists every disagreement at once', () => {
    const err = thrown(() => checkEndorsement(milan, 'vcek', { ...milanExt, snp: 6, microcode: 70, hwId: new Uint8Array(64).fill(9) }));
    expect(err.message).toMatch(/snpSPL.*ucodeSPL.*CHIP_ID/);
  });
});

describe('verifyReportSignature', () => {
  // A synthetic P-384 key standing in for a VCEK, to exercise the byte conversion alone.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });

  function signed(bytes: Uint8Array): Uint8Array {
    const sig = sign('sha384', bytes.subarray(0, 0x2a0), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const out = new Uint8Array(bytes);
    out.fill(0, 0x2a0);
    out.set(Uint8Array.from(sig.subarray(0, 48)).reverse(), 0x2a0);
    out.set(Uint8Array.from(sig.subarray(48)).reverse(), 0x2a0 + 72);
    return out;
  }

  it('verifies a report signed with little-endian r and s', () => {
    const bytes = signed(MILAN_V2.report());
    expect(() => verifyReportSignature(bytes, parseReport(bytes), publicKey)).not.toThrow();
  });

  it.each([
    ['a signed byte', 0x10],
    ['the last signed byte', 0x29f],
    ['r', 0x2a0],
    ['s', 0x2a0 + 72 + 47],
  ])('refuses a change to %s', (_what, at) => {
    const bytes = signed(MILAN_V2.report());
    xorAt(bytes, at, 0x80);
    expect(thrown(() => verifyReportSignature(bytes, parseReport(bytes), publicKey)).reason).toBe('signature');
  });

  it('ignores the reserved tail after s, which the signature does not cover', () => {
    const bytes = signed(MILAN_V2.report());
    xorAt(bytes, 0x4a0 - 1, 0xff);
    expect(() => verifyReportSignature(bytes, parseReport(bytes), publicKey)).not.toThrow();
  });

  it('refuses non-zero bytes above the 48 significant ones', () => {
    const bytes = signed(MILAN_V2.report());
    bytes[0x2a0 + 48] = 1;
    expect(thrown(() => verifyReportSignature(bytes, parseReport(bytes), publicKey)).message).toMatch(/exceeds 48 bytes/);
  });

  it('refuses an unknown signature algorithm as unsupported', () => {
    const bytes = signed(MILAN_V2.report());
    const report = { ...parseReport(bytes), signatureAlgo: 2 };
    expect(thrown(() => verifyReportSignature(bytes, report, publicKey)).reason).toBe('unsupported');
  });
});
