import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

/**
 * A throwaway PKI for tests of certificate paths: CAs, leaves and CRLs with ECDSA
 * P-256, made with @peculiar/x509 (test-only). Vendors' real chains are tested with
 * their real certificates; this covers what real vectors cannot: revocation, forgery,
 * look-alike names.
 */
// The library's parameter is the DOM Crypto type, which this Node-only build does not declare.
x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

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

async function generate(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

const caExtensions = (keys: CryptoKeyPair) => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
];

export async function rootCa(name: string, validity: Validity): Promise<Issued> {
  const keys = await generate();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name,
    ...validity,
    signingAlgorithm: ALG,
    keys,
    extensions: await Promise.all(caExtensions(keys)),
  });
  return { der: new Uint8Array(cert.rawData), name, keys };
}

export async function issue(issuer: Issued, name: string, validity: Validity, options: { ca?: boolean; serial?: string } = {}): Promise<Issued & { serial: string }> {
  const keys = await generate();
  const serialNumber = options.serial ?? nextSerial();
  const extensions = options.ca
    ? await Promise.all(caExtensions(keys))
    : [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: name,
    issuer: issuer.name,
    ...validity,
    signingAlgorithm: ALG,
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
    signingAlgorithm: ALG,
    signingKey: issuer.keys.privateKey,
  });
  return new Uint8Array(list.rawData);
}
