import 'reflect-metadata';
import { KeyObject, sign, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { sevSnpPlugin } from '../../../src/evidence/sev-snp/index.js';
import { SIGNATURE_OFFSET, SIGNED_LENGTH } from '../../../src/evidence/sev-snp/report.js';
import { toPem } from '../../../src/evidence/x509/pem.js';
import { expectRefused } from '../refusal.js';
import { MILAN_V2 } from './fixtures.js';

/**
 * AMD's CRLs, on a throwaway AMD-shaped PKI: no real vector carries a CRL, and only a
 * made-up ARK can sign one that revokes. ARK and ASK sign with RSA-PSS (SHA-384, salt 48)
 * as AMD's do; the VCEK carries the real Milan v2 VCEK's SNP extensions, and the real
 * Milan v2 report is re-signed with it, so everything but the keys is AMD's.
 */
x509.cryptoProvider.set(webcrypto as never);

const PSS = { name: 'RSA-PSS', saltLength: 48 } as const;
const PSS_KEY = { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' } as const;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const YEAR = { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2045-01-01T00:00:00Z') };
const NOW = MILAN_V2.now;
const CA_EXTENSIONS = [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)];

interface Pki {
  ark: { der: Uint8Array; keys: webcrypto.CryptoKeyPair };
  ask: { der: Uint8Array; serial: string };
  vcek: Uint8Array;
  report: Uint8Array;
}

async function amdShapedPki(): Promise<Pki> {
  const arkKeys = (await webcrypto.subtle.generateKey(PSS_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ark = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=ARK-Milan', ...YEAR, signingAlgorithm: PSS, keys: arkKeys, extensions: CA_EXTENSIONS });
  const askKeys = (await webcrypto.subtle.generateKey(PSS_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ask = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: 'CN=SEV-Milan',
    issuer: 'CN=ARK-Milan',
    ...YEAR,
    signingAlgorithm: PSS,
    publicKey: askKeys.publicKey,
    signingKey: arkKeys.privateKey,
    extensions: CA_EXTENSIONS,
  });
  const vcekKeys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const snpExtensions = new x509.X509Certificate(MILAN_V2.vcek()).extensions.filter((ext) => ext.type.startsWith('1.3.6.1.4.1.3704.'));
  const vcek = await x509.X509CertificateGenerator.create({
    serialNumber: '00',
    subject: 'CN=SEV-VCEK',
    issuer: 'CN=SEV-Milan',
    ...YEAR,
    signingAlgorithm: PSS,
    publicKey: vcekKeys.publicKey,
    signingKey: askKeys.privateKey,
    extensions: snpExtensions,
  });
  // The report's R and S are little-endian in 72-byte fields.
  const report = MILAN_V2.report();
  const signature = sign('sha384', report.subarray(0, SIGNED_LENGTH), { key: KeyObject.from(vcekKeys.privateKey), dsaEncoding: 'ieee-p1363' });
  report.fill(0, SIGNATURE_OFFSET, SIGNATURE_OFFSET + 144);
  report.set(Uint8Array.from(signature.subarray(0, 48)).reverse(), SIGNATURE_OFFSET);
  report.set(Uint8Array.from(signature.subarray(48)).reverse(), SIGNATURE_OFFSET + 72);
  return {
    ark: { der: new Uint8Array(ark.rawData), keys: arkKeys },
    ask: { der: new Uint8Array(ask.rawData), serial: '0a' },
    vcek: new Uint8Array(vcek.rawData),
    report,
  };
}

async function arkCrl(signer: webcrypto.CryptoKeyPair, revoked: readonly string[], window = { thisUpdate: new Date('2022-09-01T00:00:00Z'), nextUpdate: new Date('2022-10-01T00:00:00Z') }): Promise<Uint8Array> {
  const list = await x509.X509CrlGenerator.create({
    issuer: 'CN=ARK-Milan',
    ...window,
    entries: revoked.map((serialNumber) => ({ serialNumber, revocationDate: window.thisUpdate, reason: x509.X509CrlReason.keyCompromise })),
    signingAlgorithm: PSS,
    signingKey: signer.privateKey,
  });
  return new Uint8Array(list.rawData);
}

describe('SEV-SNP: AMD CRLs in the collateral', () => {
  let pki: Pki;
  const verify = (collateral: readonly Uint8Array[], now = NOW) => sevSnpPlugin.verify(pki.report, { now, trustAnchors: [pki.ark.der], collateral: [pki.vcek, pki.ask.der, ...collateral] });

  beforeAll(async () => {
    pki = await amdShapedPki();
  });

  it('verifies without a CRL, and says that none was checked', async () => {
    const claims = await verify([]);
    expect(claims.measurements).toHaveLength(1);
    expect(claims.details).toMatchObject({ root: 'ARK-Milan', endorsementIssuer: 'SEV-Milan', crlsChecked: [] });
  });

  it("checks the ARK's CRL, DER or PEM: a clean one is named in the claims", async () => {
    const der = await arkCrl(pki.ark.keys, ['7f']);
    expect((await verify([der])).details).toMatchObject({ crlsChecked: ['ARK-Milan'] });
    const pem = new TextEncoder().encode(toPem(der, 'X509 CRL'));
    expect((await verify([pem])).details).toMatchObject({ crlsChecked: ['ARK-Milan'] });
  });

  it('refuses a chain whose ASK the ARK revoked', async () => {
    await expectRefused(verify([await arkCrl(pki.ark.keys, [pki.ask.serial])]), 'revoked', /SEV-Milan \(serial 0a\) is revoked by the CRL of ARK-Milan/);
  });

  it('refuses a CRL that is not current at the verification time', async () => {
    const crl = await arkCrl(pki.ark.keys, []);
    expect((await verify([crl])).details).toMatchObject({ crlsChecked: ['ARK-Milan'] });
    await expectRefused(verify([crl], new Date('2022-10-02T00:00:00Z')), 'expired', /the CRL of ARK-Milan is valid 2022-09-01T00:00:00.000Z to 2022-10-01T00:00:00.000Z/);
  });

  it("refuses a CRL in the ARK's name that another key signed", async () => {
    const impostor = (await webcrypto.subtle.generateKey(PSS_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    await expectRefused(verify([await arkCrl(impostor, [])]), 'chain', /the CRL of ARK-Milan's signature does not verify/);
  });

  it("ignores a CRL of another issuer: it says nothing about this chain", async () => {
    const other = (await webcrypto.subtle.generateKey(PSS_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const list = await x509.X509CrlGenerator.create({
      issuer: 'CN=ARK-Genoa',
      thisUpdate: new Date('2022-09-01T00:00:00Z'),
      nextUpdate: new Date('2022-10-01T00:00:00Z'),
      entries: [{ serialNumber: pki.ask.serial, revocationDate: new Date('2022-09-01T00:00:00Z') }],
      signingAlgorithm: PSS,
      signingKey: other.privateKey,
    });
    expect((await verify([new Uint8Array(list.rawData)])).details).toMatchObject({ crlsChecked: [] });
  });
});
