/**
 * Intel DCAP verification rates (SGX and TDX, chains and collateral cached) beside the raw
 * ECDSA P-256 checks of the same quotes' two signatures (the quote, by the attestation key;
 * the QE report, by the PCK key): the ratio says what parsing, the cache look-up, the QE
 * identity and the TCB evaluation add to the two signatures a verification cannot avoid.
 * The issue sets no goal for DCAP.
 */
import { createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sgxPlugin, tdxPlugin, trustedPlatforms } from '../src/evidence/dcap/index.js';
import type { EvidencePlugin, VerifyContext } from '../src/evidence/plugin.js';
import type { Interleaved } from './support.js';
import { cacheMissesDuring, cycling, timedRounds, measureUncached, verificationLine, warmUp, type TimedRates, type Verification, type VerificationOptions } from './verification.js';

/** Applied to each TEE in turn: `rounds` pairs for SGX, then as many for TDX. */
export type DcapOptions = VerificationOptions;

export interface DcapTeeFigures {
  /** Median plugin.verify calls per second, chains and collateral cached. */
  readonly verificationsPerSec: number;
  /** Median raw checks per second of the same quote's two P-256 signatures (one pair = one quote). */
  readonly rawPairsPerSec: number;
  readonly ratio: number;
  /** Verifications per second with the trust cache emptied before each (parsed collateral items still reused). */
  readonly uncachedPerSec: number;
  /** Every round: baseline = raw pairs/s, subject = verifications/s. */
  readonly rounds: Interleaved;
}

export interface DcapFigures {
  readonly sgx: DcapTeeFigures;
  readonly tdx: DcapTeeFigures;
  /** Trust-cache misses during the timed rounds; 0 means every timed call was a hit. */
  readonly timedCacheMisses: number;
  readonly vectors: readonly string[];
  readonly options: DcapOptions;
}

// Compiled: <project>/dist/bench/dcap.js; run from source: <project>/bench/dcap.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const FIXTURES = path.join(ROOT, 'test', 'fixtures');

/** The real vectors of test/fixtures/sgx and tdx, at the time their READMEs document. */
const VECTORS = {
  sgx: { name: 'sgx_quote (v3)', quote: 'sgx/sgx_quote', collateral: 'sgx/sgx_quote_collateral.json', at: '2025-07-01T00:00:00Z' },
  tdx: { name: 'tdx_quote (v4)', quote: 'tdx/tdx_quote', collateral: 'tdx/tdx_quote_collateral.json', at: '2025-07-01T00:00:00Z' },
} as const;

interface Vector {
  readonly quote: Uint8Array;
  readonly context: VerifyContext;
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly attestationKey: KeyObject;
  readonly qeReport: Uint8Array;
  readonly qeSignature: Uint8Array;
  readonly pckKey: KeyObject;
}

/**
 * The baseline reads the signatures and keys itself (fixed offsets of v3 and v4 quotes,
 * node's X.509 for the PCK), not through the parser it is compared with.
 */
async function load(v: (typeof VECTORS)[keyof typeof VECTORS]): Promise<Vector> {
  const quote = new Uint8Array(await fs.readFile(path.join(FIXTURES, v.quote)));
  const collateral = new Uint8Array(await fs.readFile(path.join(FIXTURES, v.collateral)));
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
  const version = view.getUint16(0, true);
  const bodySize = view.getUint32(4, true) === 0x81 ? 584 : 384;
  const signedLength = 48 + bodySize;
  const sig = signedLength + 4;
  const key = sig + 64;
  const qe = version === 3 ? key + 64 : key + 64 + 6;
  const xy = quote.subarray(key, key + 64);
  const pem = Buffer.from(quote.subarray(qe + 384 + 64)).toString('latin1');
  const leaf = pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'), pem.indexOf('-----END CERTIFICATE-----') + 25);
  return {
    quote,
    context: { now: new Date(v.at), collateral: [collateral] },
    signed: quote.subarray(0, signedLength),
    signature: quote.subarray(sig, sig + 64),
    attestationKey: createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: Buffer.from(xy.subarray(0, 32)).toString('base64url'), y: Buffer.from(xy.subarray(32)).toString('base64url') },
      format: 'jwk',
    }),
    qeReport: quote.subarray(qe, qe + 384),
    qeSignature: quote.subarray(qe + 384, qe + 448),
    pckKey: new X509Certificate(leaf).publicKey,
  };
}

/** The quote's two P-256 signatures, checked with node's crypto alone. */
function rawPair(v: Vector): boolean {
  const quoteOk = verify('sha256', v.signed, { key: v.attestationKey, dsaEncoding: 'ieee-p1363' }, v.signature);
  const qeOk = verify('sha256', v.qeReport, { key: v.pckKey, dsaEncoding: 'ieee-p1363' }, v.qeSignature);
  return quoteOk && qeOk;
}

const teeOf = (plugin: EvidencePlugin, v: Vector): Verification => cycling([v], 'raw P-256', rawPair, (x) => plugin.verify(x.quote, x.context));

function teeFigures(t: TimedRates, uncachedPerSec: number): DcapTeeFigures {
  return { verificationsPerSec: t.verificationsPerSec, rawPairsPerSec: t.rawPerSec, ratio: t.ratio, uncachedPerSec, rounds: t.rounds };
}

export async function benchDcap(options: DcapOptions): Promise<DcapFigures> {
  const sgxQuote = await load(VECTORS.sgx);
  const tdxQuote = await load(VECTORS.tdx);
  const sgx = teeOf(sgxPlugin, sgxQuote);
  const tdx = teeOf(tdxPlugin, tdxQuote);

  // Both TEEs share the trust cache: both are warmed before either is timed, and the misses
  // count over both timed runs.
  await warmUp(sgx, options);
  await warmUp(tdx, options);
  const timed = await cacheMissesDuring(trustedPlatforms, async () => [await timedRounds(sgx, options), await timedRounds(tdx, options)] as const);
  const sgxUncached = await measureUncached(sgx, options.uncached, trustedPlatforms);
  const tdxUncached = await measureUncached(tdx, options.uncached, trustedPlatforms);
  // Leave the cache warm for whoever runs next in this process.
  await sgxPlugin.verify(sgxQuote.quote, sgxQuote.context);
  await tdxPlugin.verify(tdxQuote.quote, tdxQuote.context);

  return {
    sgx: teeFigures(timed.result[0], sgxUncached),
    tdx: teeFigures(timed.result[1], tdxUncached),
    timedCacheMisses: timed.misses,
    vectors: [VECTORS.sgx.name, VECTORS.tdx.name],
    options,
  };
}

export function dcapLine(f: DcapFigures): string {
  const line = (name: string, t: DcapTeeFigures): string => verificationLine(name, t, { label: 'raw P-256 quote + QE report', perSec: t.rawPairsPerSec });
  return `${line('dcap sgx', f.sgx)}\n${line('dcap tdx', f.tdx)}`;
}
