import { CovenantError } from '../../core/errors.js';
import { EvidenceError } from '../plugin.js';
import type { Claims, EvidencePlugin, VerifyContext } from '../plugin.js';
import { trustedChain } from './chain.js';
import { claimsOf } from './claims.js';
import { parseSign1, verifySign1 } from './cose.js';
import { parseDocument } from './document.js';

export { parseSign1, sigStructure, verifySign1, COSE_ALG_ES384, COSE_SIGN1_TAG, MAX_DOCUMENT_BYTES, MAX_PAYLOAD_BYTES } from './cose.js';
export type { CoseSign1 } from './cose.js';
export { parseDocument, LIMITS } from './document.js';
export type { AttestationDocument } from './document.js';
export { trustedChain, chainCacheKey, verifiedChains, CHAIN_CACHE_CAPACITY } from './chain.js';
export type { VerifiedChain, PathMember } from './chain.js';
export { claimsOf } from './claims.js';
export { AWS_NITRO_ROOT_G1_PEM } from './roots.js';

export const NITRO_MEDIA_TYPES = ['application/vnd.aws.nitro-enclaves.attestation-document'] as const;

function checkNonce(nonce: Uint8Array | undefined, expected: Uint8Array): void {
  if (nonce === undefined) throw new EvidenceError('nonce', 'the attestation document carries no nonce, one was expected');
  if (!Buffer.from(nonce).equals(Buffer.from(expected))) throw new EvidenceError('nonce', 'the attestation document nonce is not the expected one');
}

function verifyNitro(evidence: Uint8Array, context: VerifyContext): Claims {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime())) {
    throw new CovenantError('bad-request', 'VerifyContext.now must be a valid Date');
  }
  if (!(evidence instanceof Uint8Array)) throw new EvidenceError('malformed', 'the attestation document is not a byte array');
  const sign1 = parseSign1(evidence);
  const document = parseDocument(sign1.payload);
  // The chain first: it is cached, and it names the key the signature is checked with.
  const chain = trustedChain(document.certificate, document.cabundle, context.trustAnchors, context.now);
  verifySign1(sign1, chain.key);
  if (context.expectedNonce !== undefined) checkNonce(document.nonce, context.expectedNonce);
  return claimsOf(document, chain);
}

/**
 * AWS Nitro Enclaves attestation documents.
 *
 * - evidence: the document as the Nitro Security Module returns it, a COSE_Sign1 (ES384),
 *   untagged or under tag 18.
 * - trustAnchors: DER or PEM certificates replacing the shipped AWS Nitro Enclaves Root G1
 *   (`roots.ts`). The cabundle's own root copy is never trusted by itself.
 * - collateral: not used; a document carries its whole chain.
 * - expectedNonce: when given, the document's `nonce` must equal it byte for byte.
 *
 * Verified chains are cached by their exact bytes and the anchors (`chain.ts`); validity at
 * `now` and the document signature are checked on every call.
 */
export const nitroPlugin: EvidencePlugin = {
  teeClass: 'nitro',
  mediaTypes: NITRO_MEDIA_TYPES,
  verify(evidence, context) {
    try {
      return Promise.resolve(verifyNitro(evidence, context));
    } catch (err) {
      if (err instanceof CovenantError) return Promise.reject(err);
      return Promise.reject(new EvidenceError('malformed', 'the Nitro attestation document could not be processed', { cause: err }));
    }
  },
};
