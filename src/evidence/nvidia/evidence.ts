import { z } from 'zod';
import { EvidenceError } from '../plugin.js';
import { SPDM_VERSION_1_1 } from './spdm.js';

/**
 * The wire format of NVIDIA GPU evidence, media type
 * `application/vnd.nvidia.gpu-attestation+json`. Three shapes are recognised by content:
 *
 * 1. The Covenant document (UTF-8 JSON, unknown members refused):
 *    ```json
 *    { "report": "<hex: SPDM GET_MEASUREMENTS request ‖ MEASUREMENTS response>",
 *      "certChain": "<PEM certificates, leaf (GSP FMC) first>",
 *      "arch": "HOPPER" }
 *    ```
 *    `report` is what nvtrust's local verifier and `nvidia-smi conf-compute` call the
 *    attestation report (NVML `nvmlDeviceGetConfComputeGpuAttestationReport`), and
 *    `certChain` the GPU's certificate chain (`…GetConfComputeGpuCertificate`). `arch`
 *    is optional and, when present, must be HOPPER.
 * 2. One device of Trustee's NVIDIA evidence (`device_evidence_list[i]`):
 *    `{ "arch", "uuid", "evidence": "<hex or base64 report>", "certificate": "<base64 of
 *    the PEM chain>" }`. The uuid is not signed and is ignored.
 * 3. The bare report, as hex text or raw bytes, with the chain among the collateral.
 */

export const NVIDIA_EVIDENCE_MEDIA_TYPE = 'application/vnd.nvidia.gpu-attestation+json';

/** Far above a real Hopper report (4 KiB) with its five-certificate chain (5 KiB). */
export const MAX_NVIDIA_EVIDENCE_BYTES = 256 * 1024;

export interface NvidiaEvidence {
  /** The raw report: request ‖ response ‖ signature [‖ trailing bytes]. */
  readonly report: Uint8Array;
  /** The chain carried with the report (PEM or DER, leaf first); absent: it is in the collateral. */
  readonly chain?: Uint8Array;
  readonly form: 'document' | 'trustee' | 'hex' | 'binary';
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const MAX_TEXT = 2 * MAX_NVIDIA_EVIDENCE_BYTES;

const documentSchema = z.strictObject({
  report: z.string().max(MAX_TEXT).regex(HEX, 'must be hex'),
  certChain: z.string().min(1).max(MAX_TEXT),
  arch: z.string().max(32).optional(),
});

const trusteeSchema = z.strictObject({
  arch: z.string().max(32),
  uuid: z.string().max(256),
  evidence: z.string().min(1).max(MAX_TEXT),
  certificate: z.string().min(4).max(MAX_TEXT).regex(BASE64, 'must be padded standard base64'),
});

function describe(error: z.ZodError, shape: string): string {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  return `NVIDIA evidence (${shape}): ${path === '' ? '' : `${path}: `}${issue?.message ?? 'invalid'}`;
}

function checkArch(arch: string | undefined): void {
  if (arch !== undefined && arch.toUpperCase() !== 'HOPPER') {
    throw new EvidenceError('unsupported', `NVIDIA evidence: architecture ${JSON.stringify(arch)} (only HOPPER)`);
  }
}

// A `__proto__` member would be dropped by the schema instead of refused.
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new EvidenceError('malformed', 'NVIDIA evidence: a member is named __proto__');
  return value;
}

const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function parseJson(bytes: Uint8Array): NvidiaEvidence {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes), refuseProtoKeys);
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw new EvidenceError('malformed', 'NVIDIA evidence is not UTF-8 JSON', { cause: error });
  }
  if (typeof document === 'object' && document !== null && Object.hasOwn(document, 'evidence')) {
    const parsed = trusteeSchema.safeParse(document);
    if (!parsed.success) throw new EvidenceError('malformed', describe(parsed.error, 'Trustee device'));
    checkArch(parsed.data.arch);
    // Trustee decodes hex first and falls back to base64; so do we.
    const { evidence } = parsed.data;
    let report: Uint8Array;
    if (HEX.test(evidence)) report = fromHex(evidence);
    else if (BASE64.test(evidence)) report = new Uint8Array(Buffer.from(evidence, 'base64'));
    else throw new EvidenceError('malformed', 'NVIDIA evidence (Trustee device): evidence is neither hex nor base64');
    return { report, chain: new Uint8Array(Buffer.from(parsed.data.certificate, 'base64')), form: 'trustee' };
  }
  const parsed = documentSchema.safeParse(document);
  if (!parsed.success) throw new EvidenceError('malformed', describe(parsed.error, 'document'));
  checkArch(parsed.data.arch);
  return { report: fromHex(parsed.data.report), chain: utf8(parsed.data.certChain), form: 'document' };
}

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/** Recognises the shape and decodes it; every failure is 'malformed' or 'unsupported'. */
export function parseNvidiaEvidence(bytes: Uint8Array): NvidiaEvidence {
  if (bytes.length > MAX_NVIDIA_EVIDENCE_BYTES) {
    throw new EvidenceError('malformed', `NVIDIA evidence is ${bytes.length} bytes, above ${MAX_NVIDIA_EVIDENCE_BYTES}`);
  }
  if (bytes[0] === SPDM_VERSION_1_1) return { report: new Uint8Array(bytes), form: 'binary' };
  let start = 0;
  while (isSpace(bytes[start])) start++;
  if (bytes[start] === 0x7b) return parseJson(bytes);
  const text = Buffer.from(bytes).toString('latin1').trim();
  if (HEX.test(text)) return { report: fromHex(text), form: 'hex' };
  throw new EvidenceError('malformed', 'NVIDIA evidence is neither a JSON document, hex text nor a binary SPDM report');
}

/** Serialises the Covenant document (attesters and tests build evidence with it). */
export function encodeNvidiaEvidence(report: Uint8Array, certChainPem: string): Uint8Array {
  return utf8(JSON.stringify({ report: Buffer.from(report).toString('hex'), certChain: certChainPem, arch: 'HOPPER' }));
}
