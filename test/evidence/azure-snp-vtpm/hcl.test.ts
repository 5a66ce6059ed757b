import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseHclReport, RUNTIME_DATA_OFFSET, SNP_REPORT_OFFSET } from '../../../src/evidence/azure-snp-vtpm/index.js';
import { expectRefusedSync } from '../refusal.js';
import { AZURE, HCL, writeU32 } from './fixtures.js';

describe('parseHclReport on the real HCL report', () => {
  it('reads the header, the SNP report and the runtime data at their offsets', () => {
    const bytes = AZURE.parts().hclReport;
    expect(bytes).toHaveLength(2600);
    expect([SNP_REPORT_OFFSET, RUNTIME_DATA_OFFSET]).toEqual([0x20, 0x4d4]);
    const hcl = parseHclReport(bytes);
    expect(hcl).toMatchObject({ headerVersion: 1, reportSize: 2346, requestType: 2, status: 0, igvmVersion: 1, igvmDataSize: 1130 });
    // The same bytes the sev-snp fixtures extracted from this document.
    const snp = readFileSync(fileURLToPath(new URL('../../fixtures/sev-snp/azure-milan-v3-report.bin', import.meta.url)));
    expect(Buffer.from(hcl.snpReport).equals(snp)).toBe(true);
    expect(hcl.runtimeData).toHaveLength(1110);
    expect(createHash('sha256').update(hcl.runtimeData).digest('hex')).toBe('af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21');
    expect(JSON.parse(Buffer.from(hcl.runtimeData).toString('utf8'))).toHaveProperty('vm-configuration');
  });

  it('returns copies that do not alias the input', () => {
    const bytes = AZURE.parts().hclReport;
    const hcl = parseHclReport(bytes);
    bytes.fill(0);
    expect(hcl.snpReport.some((b) => b !== 0)).toBe(true);
    expect(hcl.runtimeData[0]).toBe(0x7b);
  });
});

describe('parseHclReport refusals', () => {
  const real = (): Uint8Array => AZURE.parts().hclReport;

  it('refuses anything shorter than the fixed part as malformed', () => {
    for (const length of [0, 4, 0x20, 0x4c0, 0x4d3]) expectRefusedSync(() => parseHclReport(real().subarray(0, length)), 'malformed', /shorter/);
    expect(parseHclReport(writeU32(real(), HCL.runtimeSize, 0).subarray(0, 0x4d4)).runtimeData).toHaveLength(0);
  });

  it('refuses a report without the HCLA signature as malformed', () => {
    expectRefusedSync(() => parseHclReport(writeU32(real(), 0, 0x41424344)), 'malformed', /HCLA/);
  });

  it.each([
    [0, /invalid/],
    [1, /reserved/],
    [3, /tvm/],
    [4, /tdx/],
    [77, /type 77/],
  ])('refuses IGVM report type %i as unsupported', (type, message) => {
    expectRefusedSync(() => parseHclReport(writeU32(real(), HCL.reportType, type)), 'unsupported', message);
  });

  it.each([
    [0, /invalid/],
    [2, /sha384/],
    [3, /sha512/],
    [9, /hash type 9/],
  ])('refuses runtime-data hash type %i as unsupported', (type, message) => {
    expectRefusedSync(() => parseHclReport(writeU32(real(), HCL.hashType, type)), 'unsupported', message);
  });

  it('refuses a runtime-data size beyond the report, up to 2^32 - 1, without allocating it', () => {
    const bytes = real();
    expect(parseHclReport(writeU32(bytes, HCL.runtimeSize, bytes.length - 0x4d4)).runtimeData).toHaveLength(bytes.length - 0x4d4);
    for (const size of [bytes.length - 0x4d4 + 1, 0x7fffffff, 0xffffffff]) {
      expectRefusedSync(() => parseHclReport(writeU32(bytes, HCL.runtimeSize, size)), 'malformed', /runtime data/);
    }
  });
});
