import { z } from 'zod';
import { EvidenceError } from '../plugin.js';
import type { PcrValues } from './quote.js';
import type { TpmHashName } from './structures.js';

/**
 * The wire format of TPM evidence: one UTF-8 JSON document, media type
 * `application/vnd.covenant.tpm-quote+json`.
 *
 * ```json
 * {
 *   "quote": "<base64 TPMS_ATTEST, exactly the bytes the AK signed>",
 *   "signature": "<base64 TPMT_SIGNATURE>",
 *   "pcrs": { "sha256": { "0": "<hex>", "1": "<hex>" } },
 *   "akPublic": "<base64 TPMT_PUBLIC (no TPM2B size prefix)>",
 *   "akCertificate": "<base64 DER X.509>",
 *   "akChain": ["<base64 DER X.509 intermediate>"]
 * }
 * ```
 *
 * - base64 is standard (RFC 4648 §4) with padding; hex is case-insensitive.
 * - `pcrs` holds exactly the PCRs the quote selects, by bank (`sha1`, `sha256`,
 *   `sha384`, `sha512`) then by decimal index 0–23.
 * - At least one of `akPublic` / `akCertificate` must be present for the AK to be
 *   trusted; `akChain` only helps build the certificate's path.
 * - Unknown members are refused, so a new field can never be silently ignored.
 */
export const TPM_EVIDENCE_MEDIA_TYPE = 'application/vnd.covenant.tpm-quote+json';

/** Far above any real quote (GCE's with a 3-certificate chain is ~6 KiB). */
export const MAX_TPM_EVIDENCE_BYTES = 256 * 1024;
const MAX_CERT_BYTES = 16 * 1024;
const MAX_CHAIN = 8;

export interface TpmEvidence {
  readonly quote: Uint8Array;
  readonly signature: Uint8Array;
  readonly pcrs: PcrValues;
  readonly akPublic?: Uint8Array;
  readonly akCertificate?: Uint8Array;
  readonly akChain: readonly Uint8Array[];
}

// Fixed-width groups: linear to match, whatever the input.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PCR_INDEX = /^(?:[0-9]|1[0-9]|2[0-3])$/;

const base64 = (maxBytes: number) =>
  z
    .string()
    .min(4)
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(BASE64, 'must be padded standard base64')
    .transform((text) => new Uint8Array(Buffer.from(text, 'base64')));

const bank = (digestBytes: number) =>
  z.record(
    z.string().regex(PCR_INDEX, 'PCR index must be a decimal 0–23'),
    z.string().regex(new RegExp(`^[0-9a-fA-F]{${digestBytes * 2}}$`), `must be ${digestBytes * 2} hex digits`),
  );

const schema = z.strictObject({
  quote: base64(1024),
  signature: base64(1024),
  pcrs: z.strictObject({
    sha1: bank(20).optional(),
    sha256: bank(32).optional(),
    sha384: bank(48).optional(),
    sha512: bank(64).optional(),
  }),
  akPublic: base64(1024).optional(),
  akCertificate: base64(MAX_CERT_BYTES).optional(),
  akChain: z.array(base64(MAX_CERT_BYTES)).max(MAX_CHAIN).optional(),
});

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid TPM evidence';
  const path = issue.path.map(String).join('.');
  return `TPM evidence: ${path === '' ? '' : `${path}: `}${issue.message}`;
}

// zod's record drops a `__proto__` member silently instead of refusing it; strictness
// means the document is refused, not quietly edited.
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new EvidenceError('malformed', 'TPM evidence: a member is named __proto__');
  return value;
}

/** Parses and strictly validates the JSON evidence document; every failure is 'malformed'. */
export function parseTpmEvidence(bytes: Uint8Array): TpmEvidence {
  if (bytes.length > MAX_TPM_EVIDENCE_BYTES) {
    throw new EvidenceError('malformed', `TPM evidence is ${bytes.length} bytes, above ${MAX_TPM_EVIDENCE_BYTES}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes), refuseProtoKeys);
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw new EvidenceError('malformed', 'TPM evidence is not UTF-8 JSON', { cause: error });
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) throw new EvidenceError('malformed', describe(parsed.error));
  const { data } = parsed;

  const pcrs = new Map<TpmHashName, Map<number, Uint8Array>>();
  for (const name of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
    const values = data.pcrs[name];
    if (values === undefined) continue;
    const byIndex = new Map<number, Uint8Array>();
    for (const [index, hex] of Object.entries(values)) byIndex.set(Number(index), new Uint8Array(Buffer.from(hex, 'hex')));
    pcrs.set(name, byIndex);
  }
  return {
    quote: data.quote,
    signature: data.signature,
    pcrs,
    ...(data.akPublic === undefined ? {} : { akPublic: data.akPublic }),
    ...(data.akCertificate === undefined ? {} : { akCertificate: data.akCertificate }),
    akChain: data.akChain ?? [],
  };
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Serialises evidence in the wire format (attesters and tests build documents with it). */
export function encodeTpmEvidence(evidence: {
  readonly quote: Uint8Array;
  readonly signature: Uint8Array;
  readonly pcrs: Readonly<Partial<Record<TpmHashName, Readonly<Record<number, Uint8Array>>>>>;
  readonly akPublic?: Uint8Array;
  readonly akCertificate?: Uint8Array;
  readonly akChain?: readonly Uint8Array[];
}): Uint8Array {
  const pcrs: Record<string, Record<string, string>> = {};
  for (const [name, values] of Object.entries(evidence.pcrs)) {
    if (values === undefined) continue;
    pcrs[name] = Object.fromEntries(Object.entries(values).map(([index, value]) => [index, hex(value)]));
  }
  const document = {
    quote: b64(evidence.quote),
    signature: b64(evidence.signature),
    pcrs,
    ...(evidence.akPublic === undefined ? {} : { akPublic: b64(evidence.akPublic) }),
    ...(evidence.akCertificate === undefined ? {} : { akCertificate: b64(evidence.akCertificate) }),
    ...(evidence.akChain === undefined ? {} : { akChain: evidence.akChain.map(b64) }),
  };
  return new TextEncoder().encode(JSON.stringify(document));
}
