import { createHash } from 'node:crypto';
import { CovenantError } from '../../core/errors.js';
import type { Digest } from '../../core/model.js';
import { EvidenceError, type Claims, type EvidencePlugin, type VerifyContext } from '../plugin.js';
import { trustedLeaf, type TrustedLeaf } from './chain.js';
import { parseNvidiaEvidence, NVIDIA_EVIDENCE_MEDIA_TYPE } from './evidence.js';
import { parseOpaqueData, stringField, type OpaqueData } from './opaque.js';
import { parseSpdmReport, type SpdmReport } from './spdm.js';
import { checkFwid, checkNonce, verifyReportSignature } from './verify.js';

export { encodeNvidiaEvidence, parseNvidiaEvidence, NVIDIA_EVIDENCE_MEDIA_TYPE, MAX_NVIDIA_EVIDENCE_BYTES } from './evidence.js';
export type { NvidiaEvidence } from './evidence.js';
export { parseSpdmReport } from './spdm.js';
export type { SpdmReport, SpdmRequest, SpdmResponse, MeasurementBlock } from './spdm.js';
export { parseOpaqueData } from './opaque.js';
export type { OpaqueData, OpaqueField, OpaqueValue } from './opaque.js';
export { certificateFwids } from './fwid.js';
export { NVIDIA_DEVICE_IDENTITY_CA_PEM, NVIDIA_DEVICE_IDENTITY_CA_SHA256 } from './roots.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function claimsOf(report: SpdmReport, opaque: OpaqueData, leaf: TrustedLeaf, fwidChecked: boolean): Claims {
  const config: Record<string, Digest> = {};
  for (const block of report.response.blocks) config[`measurement${block.index}`] = { alg: 'sha384', hex: hex(block.digest) };
  const text = (name: string): string | null => stringField(opaque, name) ?? null;
  return {
    teeClass: 'nvidia-gpu',
    // One digest over the whole signed record, so a release can pin the GPU's entire state
    // in one value; the per-index digests are in `config` for finer rules.
    measurements: [{ alg: 'sha384', hex: createHash('sha384').update(report.response.record).digest('hex') }],
    // Nothing in a Hopper report says whether the GPU runs in a debug (CC dev-tools) mode.
    debug: false,
    config,
    reportData: hex(report.request.nonce),
    details: {
      arch: 'HOPPER',
      spdmVersion: '1.1',
      nonce: hex(report.request.nonce),
      responderNonce: hex(report.response.responderNonce),
      measurementOperation: report.request.measurementOperation,
      slotId: report.request.slotId,
      measurementBlocks: report.response.blocks.length,
      driverVersion: text('driver_version'),
      vbiosVersion: text('vbios_version'),
      boardId: text('board_id'),
      chipSku: text('chip_sku'),
      chipSkuMod: text('chip_sku_mod'),
      project: text('project'),
      projectSku: text('project_sku'),
      projectSkuMod: text('project_sku_mod'),
      opaque: opaque.values,
      certificate: {
        subject: leaf.subject,
        serial: leaf.serial,
        fwids: leaf.fwids.map((f) => ({ ...f })),
        notBefore: leaf.path[0]?.notBefore.toISOString() ?? null,
        notAfter: leaf.path[0]?.notAfter.toISOString() ?? null,
      },
      root: leaf.path[leaf.path.length - 1]?.subject ?? null,
      chainLength: leaf.path.length,
      fwidChecked,
      // Offline limits, stated so that a policy can require an online appraisal instead.
      rimChecked: false,
      ocspChecked: false,
      crlsChecked: leaf.crlsChecked,
      trailingBytes: report.trailingBytes,
    },
  };
}

/**
 * Verifies NVIDIA GPU evidence without the plugin's catch-all, so fuzzing sees any
 * non-EvidenceError escape instead of having it relabelled.
 */
export function verifyNvidiaEvidence(evidence: Uint8Array, context: VerifyContext): Claims {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime())) {
    throw new CovenantError('bad-request', 'VerifyContext.now must be a valid Date');
  }
  const parsed = parseNvidiaEvidence(evidence);
  const report = parseSpdmReport(parsed.report);
  const opaque = parseOpaqueData(report.response.opaqueData);
  const leaf = trustedLeaf(parsed.chain, context);
  verifyReportSignature(report, leaf.key);
  const fwidChecked = checkFwid(opaque, leaf.fwids);
  // After the signature, so that the refusal of a forged report never depends on its nonce.
  checkNonce(report, context.expectedNonce);
  return claimsOf(report, opaque, leaf, fwidChecked);
}

/**
 * NVIDIA H100 (Hopper) GPU attestation: an SPDM 1.1 GET_MEASUREMENTS exchange signed by
 * the GPU's DICE leaf key (teeClass 'nvidia-gpu').
 *
 * - evidence: see evidence.ts (a JSON document with the report and the PEM chain, a
 *   Trustee device object, or the bare report with the chain as collateral).
 * - collateral: certificates (DER or PEM) joining the chain's intermediates, and CRLs
 *   (DER or PEM), checked where they apply.
 * - trustAnchors: DER or PEM certificates; absent, the NVIDIA Device Identity CA of
 *   roots.ts.
 * - expectedNonce: the 32-byte SPDM request nonce, compared when given.
 *
 * Reference integrity manifests (RIMs) and OCSP need NVIDIA's online services and are not
 * consulted; `details.rimChecked` and `details.ocspChecked` say so.
 */
export const nvidiaGpuPlugin: EvidencePlugin = {
  teeClass: 'nvidia-gpu',
  mediaTypes: [NVIDIA_EVIDENCE_MEDIA_TYPE],
  verify(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
    try {
      return Promise.resolve(verifyNvidiaEvidence(evidence, context));
    } catch (error) {
      if (error instanceof CovenantError) return Promise.reject(error);
      // The contract promises typed refusals only; an untyped escape is a bug we still contain.
      return Promise.reject(new EvidenceError('malformed', 'NVIDIA evidence could not be processed', { cause: error }));
    }
  },
};
