import { z } from 'zod';
import { canonicalJson } from '../../core/canonical.js';
import { digestProblem } from '../../core/digest.js';
import { configNameProblem } from '../../core/names.js';
import { MAX_CONFIG_ENTRIES } from '../../core/release.js';
import { EvidenceError } from '../plugin.js';

/**
 * The sim evidence wire format. One JSON document:
 *
 *   { "version": 1, "report": b64, "signature": b64, "platformCertificate": b64 }
 *
 * `report` is the canonical (RFC 8785) JSON text of the report, and the Ed25519
 * signature is over exactly those bytes, so nothing is re-serialised before verifying.
 */

export const SIM_MEDIA_TYPE = 'application/vnd.covenant.sim-evidence+json';
export const SIM_EVIDENCE_VERSION = 1;
export const SIM_REPORT_VERSION = 1;

/** Bounds checked before any parsing, so hostile input costs at most this much work. */
export const MAX_EVIDENCE_BYTES = 32 * 1024;
export const MAX_REPORT_BYTES = 16 * 1024;
export const MAX_CERTIFICATE_BYTES = 8 * 1024;
export const ED25519_SIGNATURE_BYTES = 64;
/** `reportData` holds a SHA-512 binding of nonce and instance key (src/verifier/binding.ts). */
export const REPORT_DATA_BYTES = 64;

// Same shapes as release registration (src/core/release.ts), so whatever a release can
// name as a reference value a sim report can carry, and nothing else.
const MAX_SIGNER_HEX = 256;
const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const digestString = z.string().superRefine((value, ctx) => {
  const problem = digestProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const configName = z.string().superRefine((value, ctx) => {
  const problem = configNameProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const signerHex = z
  .string()
  .min(2)
  .max(MAX_SIGNER_HEX)
  .regex(/^(?:[0-9a-fA-F]{2})+$/, 'an even number of hex digits');

const configDigests = z
  .record(configName, digestString)
  .refine((value) => Object.keys(value).length <= MAX_CONFIG_ENTRIES, `at most ${MAX_CONFIG_ENTRIES} entries`);

/** What was launched: the attester's input and the measured part of every report. */
export const workloadSchema = z.strictObject({
  measurement: digestString,
  signer: signerHex.optional(),
  product: z.string().regex(PRODUCT, 'must match [A-Za-z0-9][A-Za-z0-9._:-]{0,63}').optional(),
  svn: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  debug: z.boolean(),
  configDigests,
});

export type SimWorkload = z.infer<typeof workloadSchema>;

export const reportSchema = workloadSchema.extend({
  version: z.literal(SIM_REPORT_VERSION),
  reportData: z.string().regex(new RegExp(`^[0-9a-f]{${REPORT_DATA_BYTES * 2}}$`), `${REPORT_DATA_BYTES * 2} lowercase hex digits`),
});

export type SimReport = z.infer<typeof reportSchema>;

const base64Max = (bytes: number) => Math.ceil(bytes / 3) * 4;

const envelopeSchema = z.strictObject({
  version: z.literal(SIM_EVIDENCE_VERSION),
  report: z.base64().min(1).max(base64Max(MAX_REPORT_BYTES)),
  signature: z.base64().length(base64Max(ED25519_SIGNATURE_BYTES)),
  platformCertificate: z.base64().min(1).max(base64Max(MAX_CERTIFICATE_BYTES)),
});

export interface SimEvidence {
  /** Canonical JSON bytes of the report, exactly as signed. */
  readonly report: Uint8Array;
  readonly signature: Uint8Array;
  /** DER X.509 certificate of the platform key. */
  readonly platformCertificate: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function issuesText(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue.message}`)
    .join('; ');
}

/** JSON text → value, or 'malformed'; a version other than ours is 'unsupported'. */
function parseVersionedJson(bytes: Uint8Array, what: string, version: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (error) {
    throw new EvidenceError('malformed', `sim ${what} is not UTF-8 JSON`, { cause: error });
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const found = (value as Record<string, unknown>).version;
    if (typeof found === 'number' && found !== version) {
      throw new EvidenceError('unsupported', `sim ${what} version ${String(found)} is not supported (expected ${version})`);
    }
  }
  return value;
}

// Buffer's decoder skips characters it does not know; zod's base64 check already
// rejected those, and the round trip catches non-canonical padding bits.
function decodeBase64(text: string, field: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new EvidenceError('malformed', `sim evidence ${field} is not canonical base64`);
  return new Uint8Array(bytes);
}

export function decodeEvidence(bytes: Uint8Array): SimEvidence {
  if (bytes.byteLength > MAX_EVIDENCE_BYTES) {
    throw new EvidenceError('malformed', `sim evidence is ${bytes.byteLength} bytes, more than the ${MAX_EVIDENCE_BYTES} allowed`);
  }
  const parsed = envelopeSchema.safeParse(parseVersionedJson(bytes, 'evidence', SIM_EVIDENCE_VERSION));
  if (!parsed.success) throw new EvidenceError('malformed', `sim evidence: ${issuesText(parsed.error)}`);
  return {
    report: decodeBase64(parsed.data.report, 'report'),
    signature: decodeBase64(parsed.data.signature, 'signature'),
    platformCertificate: decodeBase64(parsed.data.platformCertificate, 'platformCertificate'),
  };
}

export function encodeEvidence(evidence: SimEvidence): Uint8Array {
  const document = {
    version: SIM_EVIDENCE_VERSION,
    report: Buffer.from(evidence.report).toString('base64'),
    signature: Buffer.from(evidence.signature).toString('base64'),
    platformCertificate: Buffer.from(evidence.platformCertificate).toString('base64'),
  };
  return new TextEncoder().encode(JSON.stringify(document));
}

/** The bytes a platform key signs: canonical JSON, so one report has one encoding. */
export function encodeReport(report: SimReport): Uint8Array {
  return new TextEncoder().encode(canonicalJson(report));
}

/**
 * Signed report bytes → report. Non-canonical text is refused even though the signature
 * covers it, so that equal reports are always equal bytes (dedupe, ledger digests).
 */
export function decodeReport(bytes: Uint8Array): SimReport {
  if (bytes.byteLength > MAX_REPORT_BYTES) {
    throw new EvidenceError('malformed', `sim report is ${bytes.byteLength} bytes, more than the ${MAX_REPORT_BYTES} allowed`);
  }
  const raw = parseVersionedJson(bytes, 'report', SIM_REPORT_VERSION);
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success) throw new EvidenceError('malformed', `sim report: ${issuesText(parsed.error)}`);
  if (canonicalJson(raw) !== utf8.decode(bytes)) throw new EvidenceError('malformed', 'sim report is not canonical JSON (RFC 8785)');
  return parsed.data;
}
