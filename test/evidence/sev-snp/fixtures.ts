import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export { xorAt } from '../bytes.js';

const DIR = fileURLToPath(new URL('../../fixtures/sev-snp/', import.meta.url));

/** A fresh copy of a fixture file, safe to mutate. */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(DIR + name));
}

export function fixturePath(name: string): string {
  return DIR + name;
}

export const MILAN_V2 = {
  report: () => fixture('milan-v2-attestation.bin'),
  vcek: () => fixture('milan-v2-vcek.der'),
  /** go-sev-guest TestVerifyVcekCert's time. */
  now: new Date('2022-09-24T01:00:00Z'),
};

export const VLEK_V3 = {
  report: () => fixture('milan-vlek-v3-report.bin'),
  vlek: () => fixture('milan-vlek-v3-vlek.der'),
  now: new Date('2025-06-01T00:00:00Z'),
  /** The day this plugin was written: the VLEK expired on 2025-12-10. */
  today: new Date('2026-11-22T00:00:00Z'),
};

export const AZURE_V3 = {
  report: () => fixture('azure-milan-v3-report.bin'),
  vcek: () => fixture('azure-milan-v3-vcek.der'),
  now: new Date('2026-01-01T00:00:00Z'),
};
