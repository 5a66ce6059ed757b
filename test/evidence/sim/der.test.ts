import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { readCertificateFields } from '../../../src/evidence/sim/der.js';
import { createVendorRoot, issuePlatformIdentity } from '../../../src/sim/vendor.js';

describe('readCertificateFields', () => {
  it('reads validity and subject as OpenSSL does', () => {
    const now = new Date('2031-07-04T05:06:07.890Z');
    const root = createVendorRoot({ now, notAfter: new Date('2060-02-29T23:59:59Z') });
    const platform = issuePlatformIdentity(root, { now, platformId: 'edge-3', notAfter: new Date('2051-01-01T00:00:00Z') });
    for (const der of [root.certificate, platform.certificate]) {
      const fields = readCertificateFields(der);
      const x509 = new X509Certificate(der);
      expect(fields.notBefore.getTime()).toBe(Date.parse(x509.validFrom));
      expect(fields.notAfter.getTime()).toBe(Date.parse(x509.validTo));
      expect(fields.subject.map((a) => a.value).join('\n')).toBe(x509.subject.replace(/^[A-Z]+=/gm, ''));
    }
    // UTCTime before 2050, GeneralizedTime after: both decode.
    expect(readCertificateFields(root.certificate).notAfter.toISOString()).toBe('2060-02-29T23:59:59.000Z');
    expect(readCertificateFields(platform.certificate).notBefore.toISOString()).toBe('2031-07-04T05:06:07.000Z');
  });

  it('refuses trailing bytes and truncation with a plain Error', () => {
    const root = createVendorRoot({ now: new Date('2025-01-01T00:00:00Z') });
    expect(() => readCertificateFields(new Uint8Array([...root.certificate, 0]))).toThrow(Error);
    for (const length of [0, 1, 2, 10, root.certificate.length - 1]) {
      expect(() => readCertificateFields(root.certificate.subarray(0, length))).toThrow(Error);
    }
  });
});
