import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { Digest } from '../../core/model.js';
import type { Claims } from '../plugin.js';
import type { VerifiedChain } from './chain.js';
import type { AttestationDocument } from './document.js';

/**
 * Verified document → normalised claims. The PCRs Nitro defines
 * (docs.aws.amazon.com/enclaves, "Where to get an enclave's measurements"):
 * PCR0 the enclave image file, PCR1 the Linux kernel and bootstrap, PCR2 the
 * application; PCR3 the parent instance's IAM role, PCR4 the parent instance id, PCR8
 * the certificate that signed the enclave image file. A debug-mode enclave reports
 * PCR0–2 as zeros, which is how debug is recognised.
 */

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const isAllZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/** The PCR bank's hash, by register size (AWS's schema allows 32, 48 and 64 bytes; SHA384 gives 48). */
function digestOf(pcr: Uint8Array): Digest {
  const alg = pcr.length === 32 ? 'sha256' : pcr.length === 64 ? 'sha512' : 'sha384';
  return { alg, hex: toHex(pcr) };
}

/** PCRs that identify the deployment rather than the code, named as release config digests. */
const CONFIG_PCRS: readonly number[] = [3, 4, 8];

function jwkOf(spki: Uint8Array): JsonWebKey | undefined {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  } catch {
    // Not an SPKI (or a key type JWK cannot express): the raw bytes stay in details.
    return undefined;
  }
}

const pcr = (doc: AttestationDocument, index: number): Uint8Array => doc.pcrs.get(index) ?? new Uint8Array();

export function claimsOf(doc: AttestationDocument, chain: VerifiedChain): Claims {
  const config: Record<string, Digest> = {};
  for (const index of CONFIG_PCRS) {
    const value = doc.pcrs.get(index);
    if (value !== undefined && !isAllZero(value)) config[`pcr${index}`] = digestOf(value);
  }
  const pcr8 = doc.pcrs.get(8);
  const publicKey = doc.publicKey === undefined ? undefined : jwkOf(doc.publicKey);
  const optionalHex = (bytes: Uint8Array | undefined): string | null => (bytes === undefined ? null : toHex(bytes));

  return {
    teeClass: 'nitro',
    measurements: [0, 1, 2].map((index) => digestOf(pcr(doc, index))),
    ...(pcr8 === undefined || isAllZero(pcr8) ? {} : { signer: toHex(pcr8) }),
    debug: isAllZero(pcr(doc, 0)),
    config,
    ...(doc.userData === undefined ? {} : { reportData: toHex(doc.userData) }),
    ...(publicKey === undefined ? {} : { publicKey }),
    details: {
      moduleId: doc.moduleId,
      timestamp: new Date(doc.timestamp).toISOString(),
      digest: doc.digest,
      pcrs: Object.fromEntries([...doc.pcrs.entries()].sort(([a], [b]) => a - b).map(([index, value]) => [String(index), toHex(value)])),
      nonce: optionalHex(doc.nonce),
      userData: optionalHex(doc.userData),
      publicKey: optionalHex(doc.publicKey),
      certificate: {
        subject: chain.signer.subject,
        issuer: chain.signer.issuer,
        serial: chain.signer.serial,
        notBefore: chain.signer.notBefore.toISOString(),
        notAfter: chain.signer.notAfter.toISOString(),
      },
      chain: chain.path.map((m) => m.subject),
    },
  };
}
