import { INTEL_SGX_ROOT_CA_PEM } from '../evidence/dcap/roots.js';
import { AWS_NITRO_ROOT_G1_PEM } from '../evidence/nitro/roots.js';
import { NVIDIA_DEVICE_IDENTITY_CA_PEM } from '../evidence/nvidia/roots.js';
import { AMD_ROOT_BUNDLES } from '../evidence/sev-snp/roots.js';
import type { AnchorClass } from './classes.js';

const items = (pems: readonly string[]): readonly Uint8Array[] => pems.map((pem) => new TextEncoder().encode(pem));

// Encoded once: verification asks for these whenever members have added an anchor.
const AMD = items(AMD_ROOT_BUNDLES);
const INTEL = items([INTEL_SGX_ROOT_CA_PEM]);
const SHIPPED: Record<AnchorClass, readonly Uint8Array[]> = {
  'sev-snp': AMD,
  'azure-snp-vtpm': AMD,
  sgx: INTEL,
  tdx: INTEL,
  nitro: items([AWS_NITRO_ROOT_G1_PEM]),
  'nvidia-gpu': items([NVIDIA_DEVICE_IDENTITY_CA_PEM]),
};

/** The roots a plugin of `tee` trusts when given none, as anchor items. */
export function shippedAnchors(tee: AnchorClass): readonly Uint8Array[] {
  return SHIPPED[tee];
}
