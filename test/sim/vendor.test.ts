import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { CovenantError } from '../../src/core/errors.js';
import {
  createVendorRoot,
  exportPlatformIdentity,
  exportVendorRoot,
  importPlatformIdentity,
  importVendorRoot,
  issuePlatformIdentity,
  pemBlocks,
  SIM_ORGANIZATION,
  toPem,
} from '../../src/sim/vendor.js';

const NOW = new Date('2025-05-05T10:20:30.456Z');

describe('createVendorRoot', () => {
  it('makes a self-signed Ed25519 CA valid from now for the requested time', () => {
    const root = createVendorRoot({ now: NOW, validForDays: 10 });
    const x509 = new X509Certificate(root.certificate);
    expect(x509.ca).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(x509.checkPrivateKey(root.privateKey)).toBe(true);
    expect(x509.subject).toBe(`O=${SIM_ORGANIZATION}\nCN=Covenant Simulated TEE Vendor Root`);
    // Whole seconds, as X.509 stores them.
    expect(root.notBefore.toISOString()).toBe('2025-05-05T10:20:30.000Z');
    expect(root.notAfter.toISOString()).toBe('2025-05-15T10:20:30.000Z');
    expect(Date.parse(x509.validTo)).toBe(root.notAfter.getTime());
  });

  it('gives two roots distinct keys and serial numbers', () => {
    const a = new X509Certificate(createVendorRoot({ now: NOW }).certificate);
    const b = new X509Certificate(createVendorRoot({ now: NOW }).certificate);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.publicKey.export({ format: 'jwk' })).not.toEqual(b.publicKey.export({ format: 'jwk' }));
  });

  it('refuses bad validity and names', () => {
    expect(() => createVendorRoot({ now: new Date(Number.NaN) })).toThrow(CovenantError);
    expect(() => createVendorRoot({ now: NOW, validForDays: 0 })).toThrow(CovenantError);
    expect(() => createVendorRoot({ now: NOW, notAfter: NOW })).toThrow(CovenantError);
    expect(() => createVendorRoot({ now: NOW, name: '' })).toThrow(CovenantError);
  });
});

describe('issuePlatformIdentity', () => {
  const root = createVendorRoot({ now: NOW });

  it('issues an Ed25519 end-entity certificate naming the platform, chained to the root', () => {
    const platform = issuePlatformIdentity(root, { now: NOW, platformId: 'node-1' });
    const x509 = new X509Certificate(platform.certificate);
    const rootX509 = new X509Certificate(root.certificate);
    expect(platform.id).toBe('node-1');
    expect(x509.ca).toBe(false);
    expect(x509.subject).toBe(`O=${SIM_ORGANIZATION}\nOU=sim platform\nCN=node-1`);
    expect(x509.issuer).toBe(rootX509.subject);
    expect(x509.checkIssued(rootX509)).toBe(true);
    expect(x509.verify(rootX509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(platform.privateKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(platform.notAfter.getTime() - platform.notBefore.getTime()).toBe(365 * 86_400_000);
  });

  it('refuses a validity outside the root and a bad platform id', () => {
    expect(() => issuePlatformIdentity(root, { now: NOW, platformId: 'p', validForDays: 4000 })).toThrow(/within the vendor root/);
    expect(() => issuePlatformIdentity(root, { now: new Date('2020-01-01T00:00:00Z'), platformId: 'p' })).toThrow(CovenantError);
    for (const platformId of ['', 'Upper', 'has space', 'a'.repeat(65), 'CN=x,O=y']) {
      expect(() => issuePlatformIdentity(root, { now: NOW, platformId })).toThrow(CovenantError);
    }
  });
});

describe('PEM export and import', () => {
  const root = createVendorRoot({ now: NOW });
  const platform = issuePlatformIdentity(root, { now: NOW, platformId: 'node-2' });

  it('round-trips a vendor root and a platform identity', () => {
    const rootPem = exportVendorRoot(root);
    expect(rootPem.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(rootPem.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const again = importVendorRoot(rootPem);
    expect(again.certificate).toEqual(root.certificate);
    expect(again.name).toBe(root.name);
    expect(again.notAfter).toEqual(root.notAfter);
    // An imported root can still issue platforms.
    const issued = issuePlatformIdentity(again, { now: NOW, platformId: 'node-3' });
    expect(new X509Certificate(issued.certificate).verify(new X509Certificate(root.certificate).publicKey)).toBe(true);

    const platformAgain = importPlatformIdentity(exportPlatformIdentity(platform));
    expect(platformAgain.id).toBe('node-2');
    expect(platformAgain.certificate).toEqual(platform.certificate);
    expect(platformAgain.notBefore).toEqual(platform.notBefore);
  });

  it('refuses mismatched keys, wrong roles and bad PEM', () => {
    const rootPem = exportVendorRoot(root);
    const platformPem = exportPlatformIdentity(platform);
    expect(() => importVendorRoot({ ...rootPem, privateKeyPem: platformPem.privateKeyPem })).toThrow(/does not match/);
    expect(() => importVendorRoot(platformPem)).toThrow(/self-signed CA/);
    expect(() => importPlatformIdentity(rootPem)).toThrow(/not be a CA/);
    expect(() => importVendorRoot({ ...rootPem, certificatePem: 'nothing here' })).toThrow(CovenantError);
    expect(() => importVendorRoot({ ...rootPem, privateKeyPem: 'nothing here' })).toThrow(CovenantError);
    expect(() => importVendorRoot({ ...rootPem, certificatePem: rootPem.certificatePem + rootPem.certificatePem })).toThrow(/exactly one/);
  });

  it('toPem and pemBlocks are inverse; non-canonical base64 is refused', () => {
    const pem = toPem(root.certificate);
    expect(pem.split('\n').every((line) => line.length <= 64)).toBe(true);
    expect(pemBlocks(pem)).toEqual([root.certificate]);
    expect(pemBlocks(`junk\n${pem}more junk\n${toPem(platform.certificate)}`)).toEqual([root.certificate, platform.certificate]);
    expect(pemBlocks(toPem(new Uint8Array([1]), 'OTHER'))).toEqual([]);
    expect(pemBlocks('-----BEGIN CERTIFICATE-----\nAB==\n-----END CERTIFICATE-----\n')).toBeUndefined();
  });
});
