import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import {
  endorsementKind,
  isAsvk,
  isSignedBy,
  loadAll,
  loadCertificates,
  parseCertificateDer,
  readEndorsementExtensions,
  verifyChain,
} from '../../../src/evidence/sev-snp/certificates.js';
import type { AmdCertificate } from '../../../src/evidence/sev-snp/certificates.js';
import { AMD_ROOT_BUNDLES } from '../../../src/evidence/sev-snp/roots.js';
import { AZURE_V3, fixture, MILAN_V2, VLEK_V3, xorAt } from './fixtures.js';
import { rejection } from '../../support/errors.js';


function one(bytes: Uint8Array): AmdCertificate {
  const c = parseCertificateDer(bytes);
  if (!c) throw new Error('fixture did not parse');
  return c;
}

const chainError = (fn: () => unknown): EvidenceError => rejection(fn, EvidenceError);

const shipped = loadAll(AMD_ROOT_BUNDLES.map((p) => new TextEncoder().encode(p))).certs;
const milan = loadCertificates(fixture('milan-ask-ark.pem')).certs;
const genoa = loadCertificates(fixture('genoa-ask-ark.pem')).certs;

describe('VCEK/VLEK extensions', () => {
  it('reads the go-sev-guest Milan VCEK (serial number 0)', () => {
    const vcek = one(MILAN_V2.vcek());
    expect(Array.from(vcek.cert.serialNumber.valueBlock.valueHexView)).toEqual([0]);
    expect(vcek.isP384).toBe(true);
    expect(endorsementKind(vcek)).toBe('vcek');
    const ext = readEndorsementExtensions(vcek);
    expect(ext).toMatchObject({ structVersion: 0, productName: 'Milan-B0', bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    expect(Buffer.from(ext.hwId ?? []).toString('hex')).toBe(
      '3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d',
    );
    expect(ext.cspId).toBeUndefined();
    expect(ext.fmc).toBeUndefined();
  });

  it('reads the trustee VLEK: SPLs, product, CSP id, no hwID', () => {
    const vlek = one(VLEK_V3.vlek());
    expect(endorsementKind(vlek)).toBe('vlek');
    const ext = readEndorsementExtensions(vlek);
    expect(ext).toMatchObject({ productName: 'Milan', bootloader: 4, tee: 0, snp: 24, microcode: 217, cspId: 'CN=cc-us-east-2.amazonaws.com' });
    expect(ext.hwId).toBeUndefined();
  });

  it('reads the Azure VCEK', () => {
    const ext = readEndorsementExtensions(one(AZURE_V3.vcek()));
    expect(ext).toMatchObject({ productName: 'Milan-B0', bootloader: 4, tee: 0, snp: 24, microcode: 219 });
    expect(ext.hwId?.length).toBe(64);
  });
});

describe('loading certificates by content', () => {
  it('reads DER, PEM bundles, and ignores what is neither', () => {
    expect(loadCertificates(MILAN_V2.vcek()).certs).toHaveLength(1);
    expect(loadCertificates(fixture('milan-ask-ark-asvk.pem')).certs.map((c) => c.subjectCn)).toEqual(['SEV-Milan', 'ARK-Milan', 'SEV-VLEK-Milan']);
    expect(loadCertificates(new TextEncoder().encode('hello')).certs).toHaveLength(0);
    expect(loadCertificates(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toEqual({ certs: [], rejected: 1 });
    expect(loadCertificates(new Uint8Array(0))).toEqual({ certs: [], rejected: 0 });
  });

  it('refuses DER with trailing bytes', () => {
    const der = MILAN_V2.vcek();
    const padded = new Uint8Array(der.length + 1);
    padded.set(der);
    expect(parseCertificateDer(padded)).toBeUndefined();
  });

  it('de-duplicates across inputs', () => {
    const { certs } = loadAll([fixture('milan-ask-ark.pem'), fixture('milan-ask-ark-asvk.pem'), MILAN_V2.vcek(), MILAN_V2.vcek()]);
    expect(certs.map((c) => c.subjectCn)).toEqual(['SEV-Milan', 'ARK-Milan', 'SEV-VLEK-Milan', 'SEV-VCEK']);
  });
});

describe('shipped AMD roots', () => {
  it('ships the ASK, ARK and ASVK of Milan, Genoa and Turin', () => {
    expect(shipped.map((c) => c.subjectCn).sort()).toEqual(
      ['ARK-Genoa', 'ARK-Milan', 'ARK-Turin', 'SEV-Genoa', 'SEV-Milan', 'SEV-Turin', 'SEV-VLEK-Genoa', 'SEV-VLEK-Milan', 'SEV-VLEK-Turin'].sort(),
    );
  });

  it('has the ARK fingerprints the vector README lists, each self-signed with RSA-PSS', () => {
    const arks = Object.fromEntries(shipped.filter((c) => c.selfIssued).map((c) => [c.subjectCn, createHash('sha256').update(c.der).digest('hex')]));
    expect(arks).toEqual({
      'ARK-Milan': '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
      'ARK-Genoa': '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
      'ARK-Turin': '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
    });
    for (const ark of shipped.filter((c) => c.selfIssued)) expect(isSignedBy(ark, ark)).toBe(true);
  });

  it('chains every ASK and ASVK to its ARK', () => {
    for (const ca of shipped.filter((c) => !c.selfIssued)) {
      const ark = shipped.find((c) => c.selfIssued && isSignedBy(ca, c));
      expect(ark?.subjectCn, ca.subjectCn).toBe(`ARK-${(ca.subjectCn ?? '').replace(/^SEV-(VLEK-)?/, '')}`);
    }
    expect(shipped.filter(isAsvk)).toHaveLength(3);
  });
});

describe('verifyChain', () => {
  it('verifies the Milan VCEK ← ASK ← ARK with RSA-PSS at the vector time', () => {
    const chain = verifyChain(one(MILAN_V2.vcek()), 'vcek', milan, [], MILAN_V2.now);
    expect([chain.leaf.subjectCn, chain.intermediate.subjectCn, chain.root.subjectCn]).toEqual(['SEV-VCEK', 'SEV-Milan', 'ARK-Milan']);
  });

  it('verifies the VLEK ← ASVK ← ARK with the shipped roots', () => {
    const chain = verifyChain(one(VLEK_V3.vlek()), 'vlek', shipped, [], VLEK_V3.now);
    expect([chain.intermediate.subjectCn, chain.root.subjectCn]).toEqual(['SEV-VLEK-Milan', 'ARK-Milan']);
  });

  it("refuses a VLEK when only ASKs are trusted (a VLEK's issuer must be an ASVK)", () => {
    expect(chainError(() => verifyChain(one(VLEK_V3.vlek()), 'vlek', milan, [], VLEK_V3.now)).reason).toBe('chain');
  });

  it('refuses the wrong product roots', () => {
    const err = chainError(() => verifyChain(one(MILAN_V2.vcek()), 'vcek', genoa, [], MILAN_V2.now));
    expect(err.reason).toBe('chain');
    expect(err.message).toMatch(/SEV-Milan/);
  });

  it('never trusts an ARK that arrives as collateral', () => {
    const err = chainError(() => verifyChain(one(MILAN_V2.vcek()), 'vcek', genoa, milan, MILAN_V2.now));
    expect(err.reason).toBe('chain');
    expect(err.message).toMatch(/does not chain to a trusted AMD root/);
  });

  it('accepts an ASK from collateral when the ARK is anchored', () => {
    const ark = milan.filter((c) => c.selfIssued);
    const ask = milan.filter((c) => !c.selfIssued);
    expect(verifyChain(one(MILAN_V2.vcek()), 'vcek', ark, ask, MILAN_V2.now).intermediate.subjectCn).toBe('SEV-Milan');
  });

  it('refuses a VCEK whose RSA-PSS signature was altered', () => {
    const der = MILAN_V2.vcek();
    xorAt(der, der.length - 10, 0x01);
    const err = chainError(() => verifyChain(one(der), 'vcek', milan, [], MILAN_V2.now));
    expect(err.reason).toBe('chain');
    expect(err.message).toMatch(/signature does not verify/);
  });

  it('refuses a VCEK whose to-be-signed part was altered', () => {
    const der = MILAN_V2.vcek();
    // Inside the subject public key, so the certificate still parses.
    const at = Buffer.from(der).indexOf(Buffer.from('0448ec9f362eed', 'hex')) + 5;
    xorAt(der, at, 0x01);
    expect(chainError(() => verifyChain(one(der), 'vcek', milan, [], MILAN_V2.now)).reason).toBe('chain');
  });

  it.each([
    ['before the VCEK exists', '2022-09-24T00:55:27Z'],
    ['after the VCEK expires', '2029-09-24T00:55:29Z'],
    ['after the ARK expires', '2046-01-01T00:00:00Z'],
  ])('reports expired %s', (_label, when) => {
    expect(chainError(() => verifyChain(one(MILAN_V2.vcek()), 'vcek', milan, [], new Date(when))).reason).toBe('expired');
  });

  it('accepts the exact validity bounds', () => {
    expect(() => verifyChain(one(MILAN_V2.vcek()), 'vcek', milan, [], new Date('2022-09-24T00:55:28Z'))).not.toThrow();
    expect(() => verifyChain(one(MILAN_V2.vcek()), 'vcek', milan, [], new Date('2029-09-24T00:55:28Z'))).not.toThrow();
  });
});
