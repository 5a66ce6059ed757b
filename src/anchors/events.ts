import type { AnchorClass } from './classes.js';

/**
 * A member-approved trust anchor for one evidence class, trusted beside the class's
 * shipped roots (or its `serve --anchor` files). The certificate itself is in the entry:
 * it is public, small, and the record of exactly what was trusted.
 */
export const TRUST_ANCHOR_ADDED = 'trust-anchor.added';
export const TRUST_ANCHOR_REMOVED = 'trust-anchor.removed';

export interface TrustAnchorAdded {
  readonly tee: AnchorClass;
  /** `sha256:<hex>` of the certificate file's bytes. */
  readonly digest: string;
  /** One line for people: how many certificates, and the first one's subject. */
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The file as given (PEM or DER), base64. */
  readonly certificate: string;
}

export interface TrustAnchorRemoved {
  readonly tee: AnchorClass;
  readonly digest: string;
}
