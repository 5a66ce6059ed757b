/**
 * Azure CVM verification rate (the SEV-SNP chain cached) beside the raw signature checks
 * of the same evidence: the SNP report's ECDSA P-384/SHA-384 signature with the VCEK plus
 * the TPM quote's RSASSA-PKCS1-v1_5/SHA-256 signature with the vTPM attestation key. The
 * ratio says what parsing the document, the HCL report, the runtime data and the quote,
 * the binding checks and the chain-cache lookup add to the two signatures a verification
 * cannot avoid. There is no goal for this ratio yet.
 */
import { createPublicKey, X509Certificate, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { azureSnpVtpmPlugin } from '../src/evidence/azure-snp-vtpm/index.js';
import type { VerifyContext } from '../src/evidence/plugin.js';
import { verifiedChains } from '../src/evidence/sev-snp/chain-cache.js';
import type { Interleaved } from './support.js';
import { benchVerification, cycling, verificationLine, type VerificationOptions } from './verification.js';

export type AzureOptions = VerificationOptions;

export interface AzureFigures {
  /** Median azureSnpVtpmPlugin.verify calls per second, chains cached. */
  readonly verificationsPerSec: number;
  /** Median raw P-384 report check + RSA quote check pairs per second. */
  readonly rawSignaturesPerSec: number;
  readonly ratio: number;
  /** Verifications per second with no cached SEV-SNP chain. */
  readonly uncachedPerSec: number;
  /** SEV-SNP chain-cache misses during the timed rounds; 0 means every timed call was a hit. */
  readonly timedCacheMisses: number;
  /** Every round: baseline = raw signature pairs/s, subject = verifications/s. */
  readonly rounds: Interleaved;
  readonly options: AzureOptions;
}

// Compiled: <project>/dist/bench/azure-snp-vtpm.js; run from source: <project>/bench/azure-snp-vtpm.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const EVIDENCE = path.join(ROOT, 'test', 'fixtures', 'azure-snp-vtpm', 'evidence-v1.json');

const AT = new Date('2026-01-01T00:00:00Z');
const NONCE = new TextEncoder().encode('challenge');

/** Fixed offsets of the HCL report (the SNP report at 0x20; the runtime-data size at 0x4D0, the data at 0x4D4). */
const SNP = 0x20;
const SNP_SIGNED = 0x2a0;
const SCALAR = 48;
const RUNTIME_SIZE = 0x4d0;
const RUNTIME = 0x4d4;

interface Vector {
  readonly evidence: Uint8Array;
  readonly context: VerifyContext;
  readonly report: Uint8Array;
  readonly reportSignature: Uint8Array;
  readonly vcek: KeyObject;
  readonly quote: Uint8Array;
  readonly quoteSignature: Uint8Array;
  readonly ak: KeyObject;
}

/** The baseline reads what it checks itself, at fixed offsets, with node's X.509 and JWK import. */
async function loadVector(): Promise<Vector> {
  const evidence = new Uint8Array(await fs.readFile(EVIDENCE));
  const doc = JSON.parse(Buffer.from(evidence).toString('utf8')) as {
    hcl_report: string;
    tpm_quote: { message: string; signature: string };
    vcek: string;
  };
  const hcl = Buffer.from(doc.hcl_report, 'base64url');
  const scalar = (offset: number): Buffer => Buffer.from(hcl.subarray(offset, offset + SCALAR)).reverse();
  const runtime = hcl.subarray(RUNTIME, RUNTIME + hcl.readUInt32LE(RUNTIME_SIZE));
  const keys = (JSON.parse(runtime.toString('utf8')) as { keys: { kid: string; kty: string; n: string; e: string }[] }).keys;
  const ak = keys.find((k) => k.kid === 'HCLAkPub');
  if (ak === undefined) throw new Error('azure bench: the vector has no HCLAkPub');
  return {
    evidence,
    context: { now: AT, expectedNonce: NONCE },
    report: hcl.subarray(SNP, SNP + SNP_SIGNED),
    reportSignature: Buffer.concat([scalar(SNP + SNP_SIGNED), scalar(SNP + SNP_SIGNED + 72)]),
    vcek: new X509Certificate(Buffer.from(doc.vcek, 'base64url')).publicKey,
    quote: Buffer.from(doc.tpm_quote.message, 'hex'),
    quoteSignature: Buffer.from(doc.tpm_quote.signature, 'hex'),
    ak: createPublicKey({ key: { kty: ak.kty, n: ak.n, e: ak.e }, format: 'jwk' }),
  };
}

export async function benchAzure(options: AzureOptions): Promise<AzureFigures> {
  const rawPair = (v: Vector): boolean => {
    const report = verify('sha384', v.report, { key: v.vcek, dsaEncoding: 'ieee-p1363' }, v.reportSignature);
    const quote = verify('sha256', v.quote, v.ak, v.quoteSignature);
    return report && quote;
  };
  const subject = cycling([await loadVector()], 'raw', rawPair, (v) => azureSnpVtpmPlugin.verify(v.evidence, v.context));
  const rates = await benchVerification(subject, verifiedChains, options);
  return {
    verificationsPerSec: rates.verificationsPerSec,
    rawSignaturesPerSec: rates.rawPerSec,
    ratio: rates.ratio,
    uncachedPerSec: rates.uncachedPerSec,
    timedCacheMisses: rates.timedCacheMisses,
    rounds: rates.rounds,
    options,
  };
}

export function azureLine(f: AzureFigures): string {
  return verificationLine('azure-snp-vtpm', f, { label: 'raw P-384 report + RSA quote verify', perSec: f.rawSignaturesPerSec });
}
