import type { TeeClass } from '../core/model.js';
import { INTEL_SGX_ROOT_CA_PEM } from '../evidence/dcap/roots.js';
import { AWS_NITRO_ROOT_G1_PEM } from '../evidence/nitro/roots.js';
import { NVIDIA_DEVICE_IDENTITY_CA_PEM } from '../evidence/nvidia/roots.js';
import { AMD_ROOT_BUNDLES } from '../evidence/sev-snp/roots.js';

/**
 * The evidence classes whose vendor roots ship with Covenant. Their anchors can be
 * replaced at start (`serve --anchor`) and added to by members (`anchor add`); the
 * simulated TEE and TPM have no vendor root and are configured only at start.
 */
export const ANCHOR_CLASSES = ['sev-snp', 'azure-snp-vtpm', 'sgx', 'tdx', 'nitro', 'nvidia-gpu'] as const satisfies readonly TeeClass[];
export type AnchorClass = (typeof ANCHOR_CLASSES)[number];

const SHIPPED: Record<AnchorClass, readonly string[]> = {
  'sev-snp': AMD_ROOT_BUNDLES,
  'azure-snp-vtpm': AMD_ROOT_BUNDLES,
  sgx: [INTEL_SGX_ROOT_CA_PEM],
  tdx: [INTEL_SGX_ROOT_CA_PEM],
  nitro: [AWS_NITRO_ROOT_G1_PEM],
  'nvidia-gpu': [NVIDIA_DEVICE_IDENTITY_CA_PEM],
};

export function isAnchorClass(tee: string): tee is AnchorClass {
  return (ANCHOR_CLASSES as readonly string[]).includes(tee);
}

/** The roots a plugin of `tee` trusts when given none, as anchor items. */
export function shippedAnchors(tee: AnchorClass): readonly Uint8Array[] {
  return SHIPPED[tee].map((pem) => new TextEncoder().encode(pem));
}
