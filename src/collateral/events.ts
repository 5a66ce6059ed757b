import type { TeeClass } from '../core/model.js';
import type { CollateralKind } from '../evidence/collateral.js';

/** Collateral a member imported: what it is and when it is valid; its bytes are kept beside the ledger by digest. */
export const COLLATERAL_IMPORTED = 'collateral.imported';

export interface CollateralImported {
  /** `sha256:<hex>` of the imported bytes. */
  readonly digest: string;
  readonly size: number;
  readonly kind: CollateralKind;
  readonly classes: readonly TeeClass[];
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
}
