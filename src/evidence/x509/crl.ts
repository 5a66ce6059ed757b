import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { EvidenceError } from '../plugin.js';
import { integerHex, type Certificate } from './certificate.js';
import { looksLikePem, pemBlocks } from './pem.js';

/**
 * Certificate revocation lists (RFC 5280 §5). Parsed with pkijs; the signature is
 * checked with node:crypto over the exact TBS bytes. pkijs's own validator is not used:
 * once given any CRL it demands one for every issuer on the path, and it refuses
 * entries without a reason code, which real CRLs have.
 */
export interface Crl {
  readonly der: Uint8Array;
  /** DER of the issuer name, compared with a certificate's subject name. */
  readonly issuerName: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Revoked serial numbers: lowercase hex without leading zero bytes. */
  readonly revoked: ReadonlySet<string>;
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: pkijs.AlgorithmIdentifier;
  readonly signature: Uint8Array;
}

export const MAX_CRL_BYTES = 4 * 1024 * 1024;

/** Parses one DER CRL; `what` names it in the refusal. */
export function parseCrl(der: Uint8Array, what: string): Crl {
  if (der.length === 0 || der.length > MAX_CRL_BYTES || der[0] !== 0x30) throw new EvidenceError('malformed', `${what} is not a DER CRL`);
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1 || asn.offset !== der.length) throw new Error('trailing bytes after the CRL');
    const crl = new pkijs.CertificateRevocationList({ schema: asn.result });
    return {
      der: new Uint8Array(der),
      issuerName: new Uint8Array(crl.issuer.toSchema().toBER(false)),
      thisUpdate: crl.thisUpdate.value,
      ...(crl.nextUpdate === undefined ? {} : { nextUpdate: crl.nextUpdate.value }),
      revoked: new Set((crl.revokedCertificates ?? []).map((entry) => integerHex(entry.userCertificate))),
      tbs: new Uint8Array(crl.tbsView),
      signatureAlgorithm: crl.signatureAlgorithm,
      signature: new Uint8Array(crl.signatureValue.valueBlock.valueHexView),
    };
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw new EvidenceError('malformed', `${what} is not an X.509 CRL: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A CRL recognised by content: DER, PEM `X509 CRL`, or hex text of DER (how Intel's PCS
 * collateral carries them). Undefined when the input is none of these.
 */
export function readCrl(item: Uint8Array, what: string): Crl | undefined {
  if (item.length === 0 || item.length > MAX_CRL_BYTES * 2) return undefined;
  if (item[0] === 0x30) {
    try {
      return parseCrl(item, what);
    } catch {
      return undefined;
    }
  }
  const text = Buffer.from(item).toString('latin1').trim();
  if (looksLikePem(item)) {
    const blocks = pemBlocks(text, 'X509 CRL');
    if (blocks === undefined || blocks.length !== 1) return undefined;
    return parseCrl(blocks[0]!, what);
  }
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text) && text.startsWith('30')) return parseCrl(new Uint8Array(Buffer.from(text, 'hex')), what);
  return undefined;
}

const HASH_OF: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const ED25519 = '1.3.101.112';
const HASH_OIDS: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Verifies `signature` over `data` with an X.509 signature algorithm identifier. */
export function verifyWithAlgorithm(algorithm: pkijs.AlgorithmIdentifier, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    const oid = algorithm.algorithmId;
    if (oid === ED25519) return cryptoVerify(null, data, key, signature);
    if (oid === RSASSA_PSS) {
      const params = new pkijs.RSASSAPSSParams({ schema: algorithm.algorithmParams });
      const hash = HASH_OIDS[params.hashAlgorithm.algorithmId];
      if (hash === undefined) return false;
      return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength }, signature);
    }
    const hash = HASH_OF[oid];
    return hash !== undefined && cryptoVerify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/** What a CRL's signature is checked against: its issuer's name and key. */
export interface CrlIssuer {
  /** DER of the issuer's subject name. */
  readonly subjectName: Uint8Array;
  readonly publicKey: KeyObject;
  /** Names the issuer in messages. */
  readonly subject: string;
}

/** Throws 'chain' unless `issuer` issued `crl`: its name, and a signature its key verifies. */
export function checkCrlIssuer(crl: Crl, issuer: CrlIssuer, what: string): void {
  if (!Buffer.from(crl.issuerName).equals(Buffer.from(issuer.subjectName))) {
    throw new EvidenceError('chain', `${what} was not issued by ${issuer.subject}`);
  }
  if (!verifyWithAlgorithm(crl.signatureAlgorithm, issuer.publicKey, crl.tbs, crl.signature)) {
    throw new EvidenceError('chain', `${what}'s signature does not verify with ${issuer.subject}'s key`);
  }
}

/**
 * Throws 'expired' unless the CRL is current at `now`. A CRL past its nextUpdate says
 * nothing about today, so it is refused rather than trusted as a clean bill.
 */
export function checkCrlCurrent(crl: Pick<Crl, 'thisUpdate' | 'nextUpdate'>, now: Date, what: string): void {
  const t = now.getTime();
  if (t < crl.thisUpdate.getTime() || (crl.nextUpdate !== undefined && t > crl.nextUpdate.getTime())) {
    throw new EvidenceError(
      'expired',
      `${what} is valid ${crl.thisUpdate.toISOString()} to ${crl.nextUpdate?.toISOString() ?? '(open)'}, not at ${now.toISOString()}`,
    );
  }
}

/** Checks that `issuer` issued `crl` (name and signature) and that the CRL is current at `now`. */
export function checkCrl(crl: Crl, issuer: Certificate, now: Date, what: string): void {
  checkCrlIssuer(crl, { subjectName: issuer.subjectName, publicKey: issuer.x509.publicKey, subject: issuer.subject }, what);
  checkCrlCurrent(crl, now, what);
}
