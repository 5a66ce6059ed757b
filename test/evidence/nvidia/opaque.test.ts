import { describe, expect, it } from 'vitest';
import { parseOpaqueData, stringField } from '../../../src/evidence/nvidia/opaque.js';
import { parseSpdmReport } from '../../../src/evidence/nvidia/spdm.js';
import { expectRefusedSync } from '../refusal.js';
import { field, opaqueBytes } from './builders.js';
import { HOPPER, HOPPER_COCO } from './fixtures.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const one = (id: number, data: number[] | Uint8Array): Record<string, unknown> =>
  parseOpaqueData(opaqueBytes([field(id, data instanceof Uint8Array ? data : new Uint8Array(data))])).values;

describe('parseOpaqueData on the real reports', () => {
  it('reads every field of the nvtrust sample, in the order sent', () => {
    const data = parseOpaqueData(parseSpdmReport(HOPPER.report()).response.opaqueData);
    expect(data.fields.map((f) => f.id)).toEqual([6, 14, 15, 16, 17, 18, 19, 3, 4, 12, 13, 11, 20, 21]);
    expect(data.values).toMatchObject({
      driver_version: '550.90.07',
      vbios_version: '96.00.9f.00.01',
      board_id: 'b1030000',
      chip_sku: '882',
      chip_sku_mod: '0',
      project: '1010',
      project_sku: '0200',
      project_sku_mod: '0000',
      gpu_info: '8001000000000000',
      cpr_info: '00c00100',
      nvdec0_status: 'disabled',
      protected_pcie_status: '55',
      fwid: 'f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762b1f75d',
    });
    expect(Object.keys(data.values.measurement_count as object)).toHaveLength(64);
    expect(stringField(data, 'driver_version')).toBe('550.90.07');
    expect(stringField(data, 'measurement_count')).toBeUndefined();
    expect(stringField(data, 'absent')).toBeUndefined();
  });

  it('reads the newer fields of the CoCo report (opaque data version, feature flag)', () => {
    const data = parseOpaqueData(parseSpdmReport(HOPPER_COCO.report()).response.opaqueData);
    expect(data.values).toMatchObject({ opaque_data_version: 1, feature_flag: 'SPT', driver_version: '580.95.05' });
  });
});

describe('field decodings', () => {
  it('text: NUL padding removed, anything not printable ASCII shown as hex', () => {
    expect(one(3, ascii('535.104\0\0\0'))).toEqual({ driver_version: '535.104' });
    expect(one(3, [0x35, 0x0a, 0x35])).toEqual({ driver_version: '0x350a35' });
    expect(one(17, [])).toEqual({ project: '' });
  });

  it('VBIOS: first half byte-reversed, then the next byte; too short to format is hex', () => {
    expect(one(6, [0x00, 0x81, 0x02, 0x98, 0x01, 0, 0, 0])).toEqual({ vbios_version: '98.02.81.00.01' });
    expect(one(6, [0x12, 0x34])).toEqual({ vbios_version: '12.34' });
    expect(one(6, [0x12])).toEqual({ vbios_version: '0x12' });
  });

  it('NVDEC0 status: 0xaa enabled, 0x55 disabled, else hex', () => {
    expect(one(11, [0xaa])).toEqual({ nvdec0_status: 'enabled' });
    expect(one(11, [0x55])).toEqual({ nvdec0_status: 'disabled' });
    expect(one(11, [0xaa, 0x55])).toEqual({ nvdec0_status: '0xaa55' });
  });

  it('measurement counts: u32 LE keyed from 1; a length not a multiple of 4 is malformed', () => {
    expect(one(12, [1, 0, 0, 0, 0x00, 0x01, 0, 0])).toEqual({ measurement_count: { '1': 1, '2': 256 } });
    expectRefusedSync(() => one(12, [1, 0, 0]), 'malformed', /measurement_count/);
  });

  it('switch PDIs in 8-byte chunks; u64 values; feature flags', () => {
    expect(one(22, [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9])).toEqual({ switch_pdi: ['0102030405060708', '0909090909090909'] });
    expectRefusedSync(() => one(22, [1, 2, 3]), 'malformed', /switch_pdi/);
    expect(one(34, [2, 1])).toEqual({ opaque_data_version: 258 });
    expect(one(34, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toEqual({ opaque_data_version: '18446744073709551615' });
    expectRefusedSync(() => one(34, new Array<number>(9).fill(0)), 'malformed', /above a u64/);
    expect(one(36, [1])).toEqual({ feature_flag: 'MPT' });
    expect(one(36, [2, 0])).toEqual({ feature_flag: 'PPCIE' });
    expect(one(36, [7])).toEqual({ feature_flag: 'unknown (7)' });
  });

  it('unknown ids are kept as hex by number; the INVALID id and repeats are malformed', () => {
    expect(one(99, [0xde, 0xad])).toEqual({ field_99: 'dead' });
    expectRefusedSync(() => one(255, [1]), 'malformed', /INVALID/);
    expectRefusedSync(() => parseOpaqueData(opaqueBytes([field(3, ascii('1')), field(3, ascii('2'))])), 'malformed', /twice/);
  });

  it('refuses truncated headers and data as malformed', () => {
    const good = opaqueBytes([field(3, ascii('550.90.07'))]);
    for (let length = 1; length < good.length; length++) {
      expectRefusedSync(() => parseOpaqueData(good.subarray(0, length)), 'malformed');
    }
    expect(parseOpaqueData(new Uint8Array()).fields).toEqual([]);
  });

  it('never reads an inherited member as a field', () => {
    const data = parseOpaqueData(opaqueBytes([field(3, ascii('x'))]));
    expect(stringField(data, 'toString')).toBeUndefined();
    expect(stringField(data, 'constructor')).toBeUndefined();
  });
});
