/**
 * Collateral recognised by content at import: the real Intel PCS bundles and the PEM and
 * DER certificates and CRLs are described with their validity; anything else, however
 * mangled, is refused with an EvidenceError and nothing else (fuzzed).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeCollateral } from '../../src/evidence/collateral.js';
import { toPem } from '../../src/evidence/x509/pem.js';
import { flipBits, overwrite, truncate } from './mutate.js';
import { onlyEvidenceErrors, refused } from './only-evidence-errors.js';

const fixture = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/${path}`, import.meta.url)));
const SGX = fixture('sgx/sgx_quote_collateral.json');
const TDX = fixture('tdx/tdx_quote_collateral.json');
const ROOT = fixture('sgx/intel_sgx_root_ca.der');

describe('describeCollateral', () => {
  it('describes the real SGX and TDX bundles with the window in which every part is valid', () => {
    expect(describeCollateral(SGX)).toMatchObject({ kind: 'intel-dcap', classes: ['sgx', 'tdx'], subject: expect.stringMatching(/SGX TCB info, FMSPC 00a067110000, evaluation 17/) as unknown });
    // The sgx fixture's README: everything is valid from 2025-06-19T10:56:11Z to 2025-07-19T10:01:18Z.
    expect(describeCollateral(SGX).notBefore.toISOString()).toBe('2025-06-19T10:56:11.000Z');
    expect(describeCollateral(SGX).notAfter.toISOString()).toBe('2025-07-19T10:01:18.000Z');
    expect(describeCollateral(TDX)).toMatchObject({ kind: 'intel-dcap', subject: expect.stringMatching(/^Intel PCS collateral: TDX TCB info/) as unknown });
  });

  it('reads certificates as DER or PEM', () => {
    const der = describeCollateral(ROOT);
    expect(der).toMatchObject({ kind: 'certificates', subject: expect.stringMatching(/Intel SGX Root CA/) as unknown });
    expect(der.notAfter.toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(describeCollateral(new TextEncoder().encode(toPem(ROOT) + toPem(ROOT)))).toMatchObject({ kind: 'certificates', subject: expect.stringMatching(/^2 certificate\(s\)/) as unknown });
  });

  it('refuses bytes that are not collateral, and mangled collateral, with EvidenceErrors only', () => {
    for (const junk of ['', '{}', '[]', 'null', '{"tcbInfo":{}}', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n']) {
      expect(refused(onlyEvidenceErrors(() => describeCollateral(new TextEncoder().encode(junk)))), junk).toBe(true);
    }
    fc.assert(
      fc.property(fc.constantFrom(SGX, TDX, ROOT), fc.oneof(flipBits, overwrite, truncate), (bytes, mutate) => {
        onlyEvidenceErrors(() => describeCollateral(mutate(bytes)));
      }),
      { numRuns: 300 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => void onlyEvidenceErrors(() => describeCollateral(bytes))), { numRuns: 300 });
  });
});
