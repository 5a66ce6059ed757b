import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
export { flipped, xorAt } from '../bytes.js';

const DIR = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** A fresh copy of a fixture file (path under test/fixtures), safe to mutate. */
export function fixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(DIR + path));
}

export function fixturePath(path: string): string {
  return DIR + path;
}

export interface Vector {
  readonly name: string;
  readonly quote: () => Uint8Array;
  readonly collateral: () => Uint8Array;
  /** The time its README documents verification at. */
  readonly now: Date;
  /** Everything (certificates, CRLs, TCB info, QE identity) is valid from `from` to `until`, both included. */
  readonly from: Date;
  readonly until: Date;
}

/** dcap-qvl sample/sgx_quote: v3, ConfigurationAndSWHardeningNeeded. */
export const SGX_V3: Vector = {
  name: 'sgx_quote (v3)',
  quote: () => fixture('sgx/sgx_quote'),
  collateral: () => fixture('sgx/sgx_quote_collateral.json'),
  now: new Date('2025-07-01T00:00:00Z'),
  from: new Date('2025-06-19T10:56:11Z'),
  until: new Date('2025-07-19T10:01:18Z'),
};

/** dcap-qvl sample/tdx_quote: v4, TD 1.0, UpToDate, 70 trailing zero bytes. */
export const TDX_V4: Vector = {
  name: 'tdx_quote (v4)',
  quote: () => fixture('tdx/tdx_quote'),
  collateral: () => fixture('tdx/tdx_quote_collateral.json'),
  now: new Date('2025-07-01T00:00:00Z'),
  from: new Date('2025-06-19T10:32:27Z'),
  until: new Date('2025-07-19T10:00:35Z'),
};

/** dcap-qvl sample/tdx_quote_outdated: v5, TD 1.5; every check passes but no TCB level matches. */
export const TDX_V5_OUTDATED: Vector = {
  name: 'tdx_quote_outdated (v5)',
  quote: () => fixture('tdx/tdx_quote_outdated'),
  collateral: () => fixture('tdx/tdx_quote_outdated_collateral.json'),
  now: new Date('2026-03-01T00:00:00Z'),
  from: new Date('2026-02-18T10:58:51Z'),
  until: new Date('2026-03-20T10:41:15Z'),
};

export const INTEL_ROOT_DER = (): Uint8Array => fixture('sgx/intel_sgx_root_ca.der');

export function contextOf(v: Vector, now = v.now): VerifyContext {
  return { now, collateral: [v.collateral()] };
}

/** Byte offsets of a quote's regions, from its version (the layout in src/evidence/dcap/quote.ts). */
export function layout(quote: Uint8Array): Record<string, number> {
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const version = view.getUint16(0, true);
  const tdx = view.getUint32(4, true) === 0x81;
  const body = version === 5 ? 54 : 48;
  const bodySize = version === 5 ? view.getUint32(50, true) : tdx ? 584 : 384;
  const signature = body + bodySize + 4;
  const key = signature + 64;
  const qeReport = version === 3 ? key + 64 : key + 64 + 6;
  const qeSignature = qeReport + 384;
  const authData = qeSignature + 64 + 2;
  return {
    userData: 28,
    body,
    ...(tdx ? { mrTd: body + 136, reportData: body + 520, rtmr0: body + 328 } : { mrEnclave: body + 64, mrSigner: body + 128, reportData: body + 320, isvSvn: body + 258 }),
    signatureSize: body + bodySize,
    signature,
    key,
    qeReport,
    qeSignature,
    authData,
  };
}

/** The collateral JSON document of a vector, to edit and re-serialise. */
export function collateralDoc(v: Vector): Record<string, string> {
  return JSON.parse(Buffer.from(v.collateral()).toString('utf8')) as Record<string, string>;
}

export function encodeDoc(doc: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}
