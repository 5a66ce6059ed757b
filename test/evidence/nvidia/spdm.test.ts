import { describe, expect, it } from 'vitest';
import { MAX_OPAQUE_BYTES, parseSpdmReport, REQUEST_BYTES, SIGNATURE_BYTES } from '../../../src/evidence/nvidia/spdm.js';
import { expectRefusedSync } from '../refusal.js';
import { unsignedReport, type ReportSpec } from './builders.js';
import { HOPPER, HOPPER_COCO, LAYOUT } from './fixtures.js';

/** A synthetic report with a zero signature: the parser never looks at the signature's value. */
const report = (spec: ReportSpec = {}): Uint8Array => new Uint8Array([...unsignedReport(spec), ...new Uint8Array(SIGNATURE_BYTES)]);

describe('parseSpdmReport on the real reports', () => {
  it('reads the nvtrust sample by its declared lengths', () => {
    const bytes = HOPPER.report();
    const parsed = parseSpdmReport(bytes);
    expect(parsed.request).toMatchObject({ version: 0x11, param1: 0x01, measurementOperation: 0xff, slotId: 0 });
    expect(Buffer.from(parsed.request.nonce).toString('hex')).toBe('931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb');
    expect(parsed.response.blocks.map((b) => b.index)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(parsed.response.blocks.every((b) => b.valueType === 1 && b.digest.length === 48)).toBe(true);
    expect(parsed.response.record).toHaveLength(3520);
    expect(Buffer.from(parsed.response.responderNonce).toString('hex')).toBe('b4b8a06aaaa35542839388e159d447a5d6f6194998fd86513e2d591ccf640985');
    expect(parsed.response.opaqueData).toHaveLength(LAYOUT.opaqueLength);
    expect(parsed.signed).toHaveLength(bytes.length - SIGNATURE_BYTES);
    expect(parsed.signature).toEqual(bytes.slice(bytes.length - SIGNATURE_BYTES));
    expect(parsed.trailingBytes).toBe(0);
    expect(bytes.length).toBe(4117);
  });

  it('counts and leaves out the trailing byte of the CoCo report', () => {
    const bytes = HOPPER_COCO.report();
    const parsed = parseSpdmReport(bytes);
    expect(parsed.trailingBytes).toBe(1);
    expect(parsed.signed).toHaveLength(bytes.length - SIGNATURE_BYTES - 1);
    expect(parsed.signature).toEqual(bytes.slice(bytes.length - SIGNATURE_BYTES - 1, bytes.length - 1));
  });

  it('refuses every truncation before the end of the signature as malformed', () => {
    const bytes = HOPPER.report();
    for (let length = 0; length < bytes.length; length++) {
      expectRefusedSync(() => parseSpdmReport(bytes.subarray(0, length)), 'malformed');
    }
  });

  it('never aliases the input', () => {
    const bytes = HOPPER.report();
    const parsed = parseSpdmReport(bytes);
    bytes.fill(0);
    expect(parsed.request.nonce.some((b) => b !== 0)).toBe(true);
    expect(parsed.signed.some((b) => b !== 0)).toBe(true);
  });
});

describe('parseSpdmReport on synthetic layouts', () => {
  it('accepts the default synthetic report', () => {
    const parsed = parseSpdmReport(report());
    expect(parsed.response.blocks.map((b) => b.index)).toEqual([1, 2, 3]);
    expect(parsed.signed).toHaveLength(report().length - SIGNATURE_BYTES);
    expect(REQUEST_BYTES).toBe(37);
  });

  it.each([
    ['SPDM 1.0', { version: 0x10 }, 'unsupported', /version 0x10/],
    ['SPDM 1.2', { version: 0x12 }, 'unsupported', /version 0x12/],
    ['another request code', { requestCode: 0xe1 }, 'malformed', /GET_MEASUREMENTS/],
    ['no signature requested', { param1: 0x00 }, 'unsupported', /signed/],
    ['a response of another version', { responseVersion: 0x12 }, 'malformed', /differs/],
    ['another response code', { responseCode: 0x61 }, 'malformed', /MEASUREMENTS/],
    ['another slot in the response', { responseParam2: 0x03 }, 'malformed', /slot/],
    ['no measurement blocks', { blocks: [] }, 'malformed', /no measurement blocks/],
    ['more blocks declared than recorded', { numberOfBlocks: 4 }, 'malformed', /truncated/],
    ['fewer blocks declared than recorded', { numberOfBlocks: 2 }, 'malformed', /after its 2 blocks/],
    ['a record longer than its blocks', { recordLengthDelta: 1 }, 'malformed', /after its 3 blocks/],
    ['a record shorter than its blocks', { recordLengthDelta: -1 }, 'malformed', /truncated/],
    ['a block in another specification', { blocks: [{ index: 1, specification: 0x02 }] }, 'unsupported', /DMTF/],
    ['a raw bit-stream block', { blocks: [{ index: 1, valueType: 0x81 }] }, 'unsupported', /raw bit stream/],
    ['a SHA-256 digest', { blocks: [{ index: 1, digest: new Uint8Array(32) }] }, 'unsupported', /32-byte digest/],
    ['a block size that disagrees with its value', { blocks: [{ index: 1, sizeDelta: 1 }] }, 'malformed', /truncated|declares/],
    ['a block size one short', { blocks: [{ index: 1, sizeDelta: -1 }] }, 'malformed', /declares/],
    ['a repeated index', { blocks: [{ index: 2 }, { index: 2 }] }, 'malformed', /twice/],
    ['index 0', { blocks: [{ index: 0 }] }, 'malformed', /reserved/],
    ['index 255', { blocks: [{ index: 255 }] }, 'malformed', /reserved/],
    ['an opaque length above 1024', { opaqueLength: MAX_OPAQUE_BYTES + 1 }, 'malformed', /OpaqueLength/],
  ] as const)('refuses %s', (_label, spec, reason, message) => {
    expectRefusedSync(() => parseSpdmReport(report(spec as ReportSpec)), reason, message);
  });

  it('accepts an opaque length of exactly 1024 and sparse block indices', () => {
    const opaque = [[200, new Uint8Array(MAX_OPAQUE_BYTES - 4)] as const];
    expect(parseSpdmReport(report({ opaque })).response.opaqueData).toHaveLength(MAX_OPAQUE_BYTES);
    expect(parseSpdmReport(report({ blocks: [{ index: 7 }, { index: 3 }, { index: 254 }] })).response.blocks.map((b) => b.index)).toEqual([7, 3, 254]);
  });

  it('reads a declared length as large as the u24 allows without allocating it', () => {
    const bytes = report();
    bytes[REQUEST_BYTES + 5] = 0xff;
    bytes[REQUEST_BYTES + 6] = 0xff;
    bytes[REQUEST_BYTES + 7] = 0xff;
    expectRefusedSync(() => parseSpdmReport(bytes), 'malformed', /MeasurementRecord \(need 16777215 bytes/);
  });
});
