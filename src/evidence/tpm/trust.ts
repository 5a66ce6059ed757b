import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import { parseCertificate, readCertificates, type Certificate } from '../x509/certificate.js';
import { validatePath } from '../x509/path.js';
import { parsePublic, TPMA_OBJECT, type TpmPublic } from './structures.js';

/**
 * Why the verifier may believe the AK is a key inside a real TPM.
 *
 * Trust anchors (VerifyContext.trustAnchors) come in two kinds, told apart by shape:
 * - an X.509 certificate (DER, or PEM text): a CA the AK certificate must chain to;
 * - a raw-key pin: SHA-256 of the AK's marshalled TPMT_PUBLIC, as 32 bytes or 64 ASCII
 *   hex digits. TPMT_PUBLIC rather than SPKI, because it also pins the object
 *   attributes (restricted, fixedTPM…), and with nameAlg SHA-256 it is the AK's TPM
 *   Name without the 0x000b prefix, which `tpm2_createak -n` already prints.
 *
 * With an AK certificate the certificate route is the only one taken (pins are not a
 * fallback), and akPublic, if also sent, must be the certified key.
 */

export interface TrustedAk {
  readonly key: KeyObject;
  readonly via: 'certificate' | 'pinned';
  readonly public?: TpmPublic;
  /** SHA-256 of the TPMT_PUBLIC, when it was supplied. */
  readonly publicSha256?: string;
  readonly certificate?: X509Certificate;
  readonly path?: readonly X509Certificate[];
}

export interface AkMaterial {
  readonly akPublic?: Uint8Array;
  readonly akCertificate?: Uint8Array;
  readonly akChain: readonly Uint8Array[];
}

interface Anchors {
  readonly certificates: readonly Certificate[];
  readonly pins: ReadonlySet<string>;
}

const PEM = /^\s*-----BEGIN CERTIFICATE-----/;

function parseAnchors(anchors: readonly Uint8Array[]): Anchors {
  const certificates: Certificate[] = [];
  const pins = new Set<string>();
  anchors.forEach((anchor, index) => {
    if (anchor.length === 32) {
      pins.add(Buffer.from(anchor).toString('hex'));
      return;
    }
    const text = Buffer.from(anchor).toString('latin1');
    if (anchor.length === 64 && /^[0-9a-fA-F]{64}$/.test(text)) {
      pins.add(text.toLowerCase());
      return;
    }
    if (anchor[0] === 0x30 || PEM.test(text)) {
      const found = readCertificates(anchor, `trust anchor ${index}`);
      if (found === undefined || found.length === 0) throw new EvidenceError('malformed', `trust anchor ${index} is not an X.509 certificate`);
      certificates.push(...found);
      return;
    }
    throw new EvidenceError('malformed', `trust anchor ${index} is neither a certificate nor a 32-byte TPMT_PUBLIC SHA-256 pin`);
  });
  return { certificates, pins };
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Establishes the AK as trusted, or refuses with 'chain', 'expired', 'missing-collateral'… */
export function trustAk(
  material: AkMaterial,
  context: { readonly now: Date; readonly trustAnchors?: readonly Uint8Array[]; readonly collateral?: readonly Uint8Array[] },
): TrustedAk {
  const now = context.now.getTime();
  if (Number.isNaN(now)) throw new EvidenceError('malformed', 'the verification time is not a valid date');
  const akPublic = material.akPublic === undefined ? undefined : parsePublic(material.akPublic);
  const publicSha256 =
    material.akPublic === undefined ? undefined : createHash('sha256').update(material.akPublic).digest('hex');
  if (akPublic !== undefined) {
    const wanted = TPMA_OBJECT.restricted | TPMA_OBJECT.sign;
    // Only a restricted signing key refuses to sign outside data that starts with
    // TPM_GENERATED_VALUE; any other key could sign a forged TPMS_ATTEST.
    if ((akPublic.objectAttributes & wanted) !== wanted) {
      throw new EvidenceError('unsupported', 'akPublic is not a restricted signing key, so it cannot be an attestation key');
    }
  }
  const anchors = parseAnchors(context.trustAnchors ?? []);

  if (material.akCertificate !== undefined) {
    const leaf = parseCertificate(material.akCertificate, 'akCertificate');
    const pool = material.akChain.map((bytes, index) => parseCertificate(bytes, `akChain[${index}]`));
    for (const bytes of context.collateral ?? []) {
      try {
        pool.push(...(readCertificates(bytes, 'collateral') ?? []));
      } catch {
        // Collateral is recognised by content; what is not a certificate is not ours.
      }
    }
    const path = validatePath({ leaf, intermediates: pool, anchors: anchors.certificates, now: context.now, what: 'the AK certificate' });
    const key = leaf.x509.publicKey;
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') {
      throw new EvidenceError('unsupported', `AK certificate key type ${key.asymmetricKeyType ?? 'unknown'}`);
    }
    // On this route only the key inside akPublic is vouched for (by the CA); its other
    // fields, and so tpmtPublicSha256, are the attester's word.
    if (akPublic !== undefined && !spki(akPublic.key).equals(spki(key))) {
      throw new EvidenceError('endorsement-mismatch', 'akPublic is not the key the AK certificate certifies');
    }
    return {
      key,
      via: 'certificate',
      certificate: leaf.x509,
      path: path.map((certificate) => certificate.x509),
      ...(akPublic === undefined ? {} : { public: akPublic }),
      ...(publicSha256 === undefined ? {} : { publicSha256 }),
    };
  }

  if (akPublic === undefined || publicSha256 === undefined) {
    throw new EvidenceError('missing-collateral', 'the evidence carries neither an AK certificate nor an AK public key');
  }
  if (!anchors.pins.has(publicSha256)) {
    throw new EvidenceError('chain', `the AK (TPMT_PUBLIC sha256 ${publicSha256}) is not a pinned trust anchor`);
  }
  return { key: akPublic.key, via: 'pinned', public: akPublic, publicSha256 };
}
