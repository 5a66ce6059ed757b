import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

/**
 * A throwaway PKI for tests of certificate paths: CAs, leaves and CRLs with ECDSA
 * P-256 (P-384 on request), made with @peculiar/x509 (test-only). Vendors' real chains
 * are tested with their real certificates; this covers what real vectors cannot:
 * revocation, forgery, look-alike names.
 */
// The library's parameter is the DOM Crypto type, which this Node-only build does not declare.
x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** P-256 (the default) signs with SHA-256; P-384, for chains like AWS Nitro's, with SHA-384. */
export type Curve = 'P-256' | 'P-384';
const ALGS = { 'P-256': ALG, 'P-384': { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } } as const;

/** The signing algorithm of a key pair made here, from its curve. */
const algOf = (keys: CryptoKeyPair) => ALGS[(keys.privateKey.algorithm as { namedCurve?: string }).namedCurve === 'P-384' ? 'P-384' : 'P-256'];

export interface IssueOptions {
  readonly ca?: boolean;
  readonly serial?: string;
  /** Curve of the new key; the issuer's own key decides the signature algorithm. */
  readonly curve?: Curve;
  /** A CA's BasicConstraints pathLenConstraint. */
  readonly pathLength?: number;
}

export interface Issued {
  readonly der: Uint8Array;
  readonly name: string;
  readonly keys: CryptoKeyPair;
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(2, '0');

async function generate(curve: Curve = 'P-256'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGS[curve], true, ['sign', 'verify'])) as CryptoKeyPair;
}

const caExtensions = (keys: CryptoKeyPair, pathLength?: number) => [
  new x509.BasicConstraintsExtension(true, pathLength, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
];

export async function rootCa(name: string, validity: Validity, options: Pick<IssueOptions, 'curve' | 'pathLength'> = {}): Promise<Issued> {
  const keys = await generate(options.curve);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name,
    ...validity,
    signingAlgorithm: algOf(keys),
    keys,
    extensions: await Promise.all(caExtensions(keys, options.pathLength)),
  });
  return { der: new Uint8Array(cert.rawData), name, keys };
}

export async function issue(issuer: Issued, name: string, validity: Validity, options: IssueOptions = {}): Promise<Issued & { serial: string }> {
  const keys = await generate(options.curve);
  const serialNumber = options.serial ?? nextSerial();
  const extensions = options.ca
    ? await Promise.all(caExtensions(keys, options.pathLength))
    : [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: name,
    issuer: issuer.name,
    ...validity,
    signingAlgorithm: algOf(issuer.keys),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions,
  });
  return { der: new Uint8Array(cert.rawData), name, keys, serial: serialNumber };
}

export async function crl(issuer: Issued, revokedSerials: readonly string[], window: { thisUpdate: Date; nextUpdate: Date }): Promise<Uint8Array> {
  const list = await x509.X509CrlGenerator.create({
    issuer: issuer.name,
    thisUpdate: window.thisUpdate,
    nextUpdate: window.nextUpdate,
    entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: window.thisUpdate, reason: x509.X509CrlReason.keyCompromise })),
    signingAlgorithm: algOf(issuer.keys),
    signingKey: issuer.keys.privateKey,
  });
  return new Uint8Array(list.rawData);
}

/** An extension given as its DER value, for profiles @peculiar/x509 has no class for. */
export interface RawExtension {
  readonly oid: string;
  readonly der: Uint8Array;
  readonly critical?: boolean;
}

/**
 * A P-256 end-entity certificate with extra extensions besides the usual leaf ones, e.g.
 * Intel's SGX extension of PCK certificates (DCAP tests).
 */
export async function issueLeafWith(
  issuer: Issued,
  name: string,
  validity: Validity,
  extra: readonly RawExtension[],
  options: { readonly serial?: string } = {},
): Promise<Issued & { serial: string }> {
  const keys = await generate();
  const serialNumber = options.serial ?? nextSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: name,
    issuer: issuer.name,
    ...validity,
    signingAlgorithm: algOf(issuer.keys),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      ...extra.map((e) => new x509.Extension(e.oid, e.critical ?? false, e.der)),
    ],
  });
  return { der: new Uint8Array(cert.rawData), name, keys, serial: serialNumber };
}
