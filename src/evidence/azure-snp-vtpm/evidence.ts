import { z } from 'zod';
import { EvidenceError } from '../plugin.js';

/**
 * The wire format of Azure confidential-VM evidence, media type
 * `application/vnd.azure.snp-vtpm-evidence+json`: the document Trustee's `az-snp-vtpm`
 * attester sends (its "version 1"), UTF-8 JSON, unknown members refused:
 *
 * ```json
 * {
 *   "version": 1,
 *   "hcl_report": "<base64url: the paravisor's HCL report, as read from vTPM NV index 0x01400001>",
 *   "tpm_quote": {
 *     "message": "<hex TPMS_ATTEST, exactly as signed>",
 *     "signature": "<hex raw RSASSA-PKCS1-v1_5 / SHA-256 signature by the vTPM AK>",
 *     "pcrs": ["<hex SHA-256 PCR 0>", "…", "<PCR 23>"]
 *   },
 *   "vcek": "<base64url DER: the VCEK that signed the SNP report>"
 * }
 * ```
 *
 * base64url is RFC 4648 §5, padding optional (Trustee writes it); hex is case-insensitive.
 * Other versions, including the unversioned legacy layout, are refused as 'unsupported'.
 */

export const AZURE_SNP_VTPM_MEDIA_TYPE = 'application/vnd.azure.snp-vtpm-evidence+json';

/** Far above a real document (8 KiB: a 2600-byte HCL report, a 1.3 KiB VCEK). */
export const MAX_AZURE_EVIDENCE_BYTES = 64 * 1024;
const MAX_HCL_REPORT_BYTES = 16 * 1024;
const MAX_CERT_BYTES = 16 * 1024;
const MAX_QUOTE_BYTES = 1024;
export const PCR_COUNT = 24;

export interface AzureQuote {
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  /** SHA-256 bank, PCR 0 to 23 in order. */
  readonly pcrs: readonly Uint8Array[];
}

export interface AzureEvidence {
  readonly hclReport: Uint8Array;
  readonly quote: AzureQuote;
  readonly vcek: Uint8Array;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64url: canonical, padding optional but exact when present. */
function base64url(maxBytes: number) {
  return z
    .string()
    .min(4)
    .max(Math.ceil(maxBytes / 3) * 4)
    .transform((text, ctx) => {
      const body = text.replace(/={1,2}$/, '');
      const padded = body.length !== text.length;
      const bytes = Buffer.from(body, 'base64url');
      if (!BASE64URL.test(body) || body.length % 4 === 1 || (padded && text.length % 4 !== 0) || bytes.toString('base64url') !== body) {
        ctx.addIssue({ code: 'custom', message: 'must be base64url' });
        return z.NEVER;
      }
      return new Uint8Array(bytes);
    });
}

const hex = (maxBytes: number) =>
  z
    .string()
    .min(2)
    .max(maxBytes * 2)
    .regex(/^(?:[0-9a-fA-F]{2})+$/, 'must be hex')
    .transform((text) => new Uint8Array(Buffer.from(text, 'hex')));

const schema = z.strictObject({
  version: z.literal(1),
  hcl_report: base64url(MAX_HCL_REPORT_BYTES),
  tpm_quote: z.strictObject({
    message: hex(MAX_QUOTE_BYTES),
    signature: hex(MAX_QUOTE_BYTES),
    pcrs: z
      .array(
        z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (SHA-256)')
          .transform((text) => new Uint8Array(Buffer.from(text, 'hex'))),
      )
      .length(PCR_COUNT),
  }),
  vcek: base64url(MAX_CERT_BYTES),
});

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  return `Azure evidence: ${path === '' ? '' : `${path}: `}${issue?.message ?? 'invalid'}`;
}

// A `__proto__` member would be dropped by the schema instead of refused.
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new EvidenceError('malformed', 'Azure evidence: a member is named __proto__');
  return value;
}

/** Parses and strictly validates the document; failures are 'malformed' or, for another version, 'unsupported'. */
export function parseAzureEvidence(bytes: Uint8Array): AzureEvidence {
  if (bytes.length > MAX_AZURE_EVIDENCE_BYTES) {
    throw new EvidenceError('malformed', `Azure evidence is ${bytes.length} bytes, above ${MAX_AZURE_EVIDENCE_BYTES}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes), refuseProtoKeys);
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw new EvidenceError('malformed', 'Azure evidence is not UTF-8 JSON', { cause: error });
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new EvidenceError('malformed', 'Azure evidence is not a JSON object');
  }
  const version: unknown = (document as Record<string, unknown>)['version'];
  if (version !== 1) {
    const named = version === undefined ? 'the unversioned legacy layout' : `version ${JSON.stringify(version)}`;
    throw new EvidenceError('unsupported', `Azure evidence: ${named} (only version 1)`);
  }
  const parsed = schema.safeParse(document);
  if (!parsed.success) throw new EvidenceError('malformed', describe(parsed.error));
  const { data } = parsed;
  return {
    hclReport: data.hcl_report,
    quote: { message: data.tpm_quote.message, signature: data.tpm_quote.signature, pcrs: data.tpm_quote.pcrs },
    vcek: data.vcek,
  };
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Serialises the document (tests and attesters build evidence with it). */
export function encodeAzureEvidence(evidence: AzureEvidence): Uint8Array {
  const document = {
    version: 1,
    hcl_report: b64url(evidence.hclReport),
    tpm_quote: { message: toHex(evidence.quote.message), signature: toHex(evidence.quote.signature), pcrs: evidence.quote.pcrs.map(toHex) },
    vcek: b64url(evidence.vcek),
  };
  return new TextEncoder().encode(JSON.stringify(document));
}
