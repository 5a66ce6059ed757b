import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, readCertificates } from '../../../src/evidence/x509/certificate.js';
import { parseCrl, readCrl } from '../../../src/evidence/x509/crl.js';
import { toPem } from '../../../src/evidence/x509/pem.js';
import { validatePath, type PathOptions } from '../../../src/evidence/x509/path.js';
import { expectRefusedSync } from '../refusal.js';
import { crl, issue, rootCa, type Issued } from './pki.js';

const validity = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };
const now = new Date('2025-06-01T00:00:00Z');
const window = { thisUpdate: new Date('2025-05-01T00:00:00Z'), nextUpdate: new Date('2025-07-01T00:00:00Z') };

let root: Issued;
let intermediate: Issued;
let leaf: Issued & { serial: string };
let impostor: Issued;

beforeAll(async () => {
  root = await rootCa('CN=Test Root', validity);
  intermediate = await issue(root, 'CN=Test Intermediate', validity, { ca: true });
  leaf = await issue(intermediate, 'CN=Test Leaf', validity);
  // Same name as the root, different key: names alone must not make a path.
  impostor = await rootCa('CN=Test Root', validity);
});

const cert = (issued: Issued) => parseCertificate(issued.der, issued.name);
const options = (overrides: Partial<PathOptions> = {}): PathOptions => ({
  leaf: cert(leaf),
  intermediates: [cert(intermediate)],
  anchors: [cert(root)],
  now,
  what: 'the test leaf',
  ...overrides,
});

describe('validatePath', () => {
  it('returns leaf → intermediate → anchor', () => {
    const path = validatePath(options());
    expect(path.map((c) => c.subject)).toEqual(['CN=Test Leaf', 'CN=Test Intermediate', 'CN=Test Root']);
  });

  it("refuses a path to a look-alike root with 'chain', and no anchor at all", () => {
    expectRefusedSync(() => validatePath(options({ anchors: [cert(impostor)] })), 'chain');
    expectRefusedSync(() => validatePath(options({ anchors: [] })), 'chain');
    expectRefusedSync(() => validatePath(options({ intermediates: [] })), 'chain');
  });

  it('does not trust a self-signed root that arrives among the intermediates', () => {
    expectRefusedSync(() => validatePath(options({ intermediates: [cert(intermediate), cert(root)], anchors: [cert(impostor)] })), 'chain');
  });

  it("refuses outside any certificate's validity with 'expired', bounds included as valid", () => {
    expectRefusedSync(() => validatePath(options({ now: new Date('2030-01-01T00:00:01Z') })), 'expired');
    expectRefusedSync(() => validatePath(options({ now: new Date('2023-12-31T23:59:59Z') })), 'expired');
    expect(validatePath(options({ now: validity.notAfter }))).toHaveLength(3);
  });

  it("refuses a leaf on its issuer's CRL with 'revoked' and accepts a clean CRL", async () => {
    const revoking = parseCrl(await crl(intermediate, [leaf.serial], window), 'crl');
    expectRefusedSync(() => validatePath(options({ crls: [revoking] })), 'revoked');
    const clean = parseCrl(await crl(intermediate, ['7f'], window), 'crl');
    expect(validatePath(options({ crls: [clean], revocation: 'when-supplied' }))).toHaveLength(3);
  });

  it("refuses a revoked intermediate listed on the root's CRL", async () => {
    const rootCrl = parseCrl(await crl(root, [(intermediate as Issued & { serial: string }).serial], window), 'root crl');
    expectRefusedSync(() => validatePath(options({ crls: [rootCrl] })), 'revoked');
  });

  it("with revocation required, wants a CRL from every issuer ('missing-collateral')", async () => {
    const leafCrl = parseCrl(await crl(intermediate, [], window), 'crl');
    const rootCrl = parseCrl(await crl(root, [], window), 'root crl');
    expectRefusedSync(() => validatePath(options({ crls: [leafCrl], revocation: 'required' })), 'missing-collateral');
    expect(validatePath(options({ crls: [leafCrl, rootCrl], revocation: 'required' }))).toHaveLength(3);
  });

  it("refuses a stale CRL ('expired') and one signed by another key ('chain')", async () => {
    const stale = parseCrl(await crl(intermediate, [], { thisUpdate: new Date('2025-01-01T00:00:00Z'), nextUpdate: new Date('2025-02-01T00:00:00Z') }), 'crl');
    expectRefusedSync(() => validatePath(options({ crls: [stale] })), 'expired');
    const forged = parseCrl(await crl({ ...intermediate, keys: impostor.keys }, [], window), 'crl');
    expectRefusedSync(() => validatePath(options({ crls: [forged] })), 'chain');
  });
});

describe('reading certificates and CRLs by content', () => {
  it('reads DER and multi-block PEM, and says undefined for other things', () => {
    expect(readCertificates(leaf.der, 'x')).toHaveLength(1);
    const pem = new TextEncoder().encode(toPem(leaf.der) + toPem(intermediate.der));
    expect(readCertificates(pem, 'x')?.map((c) => c.subject)).toEqual(['CN=Test Leaf', 'CN=Test Intermediate']);
    expect(readCertificates(new TextEncoder().encode('{"json": true}'), 'x')).toBeUndefined();
    expect(readCertificates(new Uint8Array([0x30, 0x03, 0x02, 0x01]), 'x')).toBeUndefined();
  });

  it('reads a CRL as DER, PEM and hex text', async () => {
    const der = await crl(intermediate, [leaf.serial], window);
    for (const form of [der, new TextEncoder().encode(toPem(der, 'X509 CRL')), new TextEncoder().encode(Buffer.from(der).toString('hex'))]) {
      expect([...(readCrl(form, 'crl')?.revoked ?? [])]).toEqual([parseCertificate(leaf.der, 'leaf').serial]);
    }
    expect(readCrl(leaf.der, 'crl')).toBeUndefined();
  });
});

describe('path length constraints', () => {
  it("refuses a CA with more CAs below it than its pathLenConstraint allows ('chain'), whatever the signatures say", async () => {
    const strict = await rootCa('CN=Strict Root', validity, { pathLength: 0 });
    const middle = await issue(strict, 'CN=Middle CA', validity, { ca: true });
    const lower = await issue(middle, 'CN=Lower CA', validity, { ca: true });
    const end = await issue(lower, 'CN=End', validity);
    expectRefusedSync(
      () => validatePath({ leaf: cert(end), intermediates: [cert(middle), cert(lower)], anchors: [cert(strict)], now, what: 'the end certificate' }),
      'chain',
      /CN=Strict Root allows 0 CA certificate\(s\) below it, the path has 2/,
    );
    const direct = await issue(strict, 'CN=Direct', validity);
    expect(validatePath({ leaf: cert(direct), intermediates: [], anchors: [cert(strict)], now, what: 'x' })).toHaveLength(2);
  });
});
