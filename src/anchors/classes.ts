import type { TeeClass } from '../core/model.js';

/**
 * The evidence classes whose vendor roots ship with Covenant. Their anchors can be
 * replaced at start (`serve --anchor`) and added to by members (`anchor add`); the
 * simulated TEE and TPM have no vendor root and are configured only at start.
 */
export const ANCHOR_CLASSES = ['sev-snp', 'azure-snp-vtpm', 'sgx', 'tdx', 'nitro', 'nvidia-gpu'] as const satisfies readonly TeeClass[];
export type AnchorClass = (typeof ANCHOR_CLASSES)[number];

export function isAnchorClass(tee: string): tee is AnchorClass {
  return (ANCHOR_CLASSES as readonly string[]).includes(tee);
}
