import { beforeAll, describe, expect, it } from 'vitest';
import { parseQuote, sgxPlugin, tdxPlugin, trustedPlatforms } from '../../../src/evidence/dcap/index.js';
import type { EvidenceFailure, EvidencePlugin, VerifyContext } from '../../../src/evidence/plugin.js';
import { certificatesFromPem } from '../../../src/evidence/x509/certificate.js';
import { toPem } from '../../../src/evidence/x509/pem.js';
import { derSignatureOfP1363, openssl, opensslDigestVerify, opensslVerify, scratchDirectory, type ChainFiles } from '../openssl.js';
import { expectRefused } from '../refusal.js';
import { collateralDoc, contextOf, flipped, INTEL_ROOT_DER, SGX_V3, TDX_V4, type Vector } from './fixtures.js';
import { collateralV3, NOW, qeIdentityText, sgxLevels, tcbInfoText, world } from './synthetic.js';

/**
 * Cross-checks against Debian's `openssl` CLI, an independent X.509, CRL and ECDSA
 * implementation: the same chains, CRLs and times give the same verdicts. Missing openssl
 * is a failure, not a skip: the cross-check is the point.
 */

const scratch = scratchDirectory('covenant-dcap-openssl-');
const file = (name: string, contents: string | Uint8Array): string => scratch.write(name, contents);

/** A chain with the CRLs that must cover all of it (openssl verify -crl_check_all). */
type Chain = ChainFiles & { readonly crls: readonly string[] };

/** The vector's PCK chain and TCB signing chain, with both CRLs, as files. */
function chainsOf(v: Vector, tag: string): { pck: Chain; signing: Chain } {
  const [leaf, ca] = certificatesFromPem(Buffer.from(parseQuote(v.quote()).pckChain).toString('latin1'), 'chain');
  const doc = collateralDoc(v);
  const crls = [file(`${tag}-pck.crl`, toPem(Buffer.from(doc.pck_crl ?? '', 'hex'), 'X509 CRL')), file(`${tag}-root.crl`, toPem(Buffer.from(doc.root_ca_crl ?? '', 'hex'), 'X509 CRL'))];
  const anchor = file('intel-root.pem', toPem(INTEL_ROOT_DER()));
  const [signer] = certificatesFromPem(doc.tcb_info_issuer_chain ?? '', 'tcb chain');
  return {
    pck: { leaf: file(`${tag}-pck.pem`, toPem(leaf!.der)), untrusted: file(`${tag}-ca.pem`, toPem(ca!.der)), anchor, crls },
    signing: { leaf: file(`${tag}-signer.pem`, toPem(signer!.der)), anchor, crls: [crls[1]!] },
  };
}

beforeAll(() => {
  openssl(['version']);
});

const VECTORS: readonly (readonly [string, Vector, EvidencePlugin])[] = [
  [SGX_V3.name, SGX_V3, sgxPlugin],
  [TDX_V4.name, TDX_V4, tdxPlugin],
];

describe.each(VECTORS)('%s: openssl and the plugin agree on the chains', (_name, v, plugin) => {
  const tag = v === SGX_V3 ? 'sgx' : 'tdx';

  it('PCK ← PCK CA ← Intel root and TCB signing ← root, both CRLs required: valid at the vector time', async () => {
    const { pck, signing } = chainsOf(v, tag);
    expect(opensslVerify(pck, v.now)).toMatchObject({ status: 0 });
    expect(opensslVerify(signing, v.now)).toMatchObject({ status: 0 });
    trustedPlatforms.clear();
    await expect(plugin.verify(v.quote(), contextOf(v))).resolves.toBeDefined();
  });

  it('after the PCK CRL expires: openssl "CRL has expired", the plugin "expired"', async () => {
    const later = new Date(v.until.getTime() + 3_600_000);
    const { pck } = chainsOf(v, tag);
    const result = opensslVerify(pck, later);
    expect(result.status).not.toBe(0);
    expect(result.out).toMatch(/CRL has expired/);
    trustedPlatforms.clear();
    await expectRefused(plugin.verify(v.quote(), contextOf(v, later)), 'expired', /CRL of CN=Intel SGX PCK/);
  });

  it('before the PCK CRL was issued: openssl "CRL is not yet valid", the plugin "expired"', async () => {
    const earlier = new Date(v.from.getTime() - 86_400_000);
    const { pck } = chainsOf(v, tag);
    const result = opensslVerify(pck, earlier);
    expect(result.status).not.toBe(0);
    expect(result.out).toMatch(/CRL is not yet valid/);
    trustedPlatforms.clear();
    await expectRefused(plugin.verify(v.quote(), contextOf(v, earlier)), 'expired');
  });

  it('without the root CA CRL: openssl "unable to get certificate CRL", the plugin "missing-collateral"', async () => {
    const { pck } = chainsOf(v, tag);
    const result = opensslVerify({ ...pck, crls: pck.crls.slice(0, 1) }, v.now);
    expect(result.status).not.toBe(0);
    expect(result.out).toMatch(/unable to get certificate CRL/);
    const doc = collateralDoc(v);
    delete doc.root_ca_crl;
    trustedPlatforms.clear();
    await expectRefused(plugin.verify(v.quote(), { now: v.now, collateral: [new TextEncoder().encode(JSON.stringify(doc))] }), 'missing-collateral');
  });
});

describe('openssl and the plugin agree on synthetic chains', () => {
  const check = async (
    w: Awaited<ReturnType<typeof world>>,
    tag: string,
    at: Date,
    opensslSays: RegExp | 'OK',
    reason: EvidenceFailure | 'ok',
    anchor?: Uint8Array,
  ): Promise<void> => {
    const root = file(`${tag}-root.pem`, toPem(anchor ?? w.pki.root.der));
    const chain: Chain = {
      leaf: file(`${tag}-pck.pem`, toPem(w.pki.pck.der)),
      untrusted: file(`${tag}-ca.pem`, toPem(w.pki.pckCa.der)),
      anchor: root,
      crls: [file(`${tag}-pck.crl`, toPem(w.pki.pckCrl, 'X509 CRL')), file(`${tag}-root.crl`, toPem(w.pki.rootCrl, 'X509 CRL'))],
    };
    const result = opensslVerify(chain, at);
    if (opensslSays === 'OK') expect(result).toMatchObject({ status: 0 });
    else {
      expect(result.status).not.toBe(0);
      expect(result.out).toMatch(opensslSays);
    }
    const context: VerifyContext = {
      now: at,
      collateral: [collateralV3(w.pki, { tcbInfo: tcbInfoText({ levels: sgxLevels() }), qeIdentity: qeIdentityText() })],
      trustAnchors: [anchor ?? w.pki.root.der],
    };
    trustedPlatforms.clear();
    if (reason === 'ok') await expect(sgxPlugin.verify(w.quote(), context)).resolves.toBeDefined();
    else await expectRefused(sgxPlugin.verify(w.quote(), context), reason);
  };

  it('a clean chain verifies in both', async () => {
    await check(await world('sgx'), 'clean', NOW, 'OK', 'ok');
  });

  it('a PCK on its CA\'s CRL: "certificate revoked" and "revoked"', async () => {
    await check(await world('sgx', { revokePck: true }), 'revoked', NOW, /certificate revoked/, 'revoked');
  });

  it('a PCK CA on the root CRL: "certificate revoked" and "revoked"', async () => {
    await check(await world('sgx', { revokePckCa: true }), 'revoked-ca', NOW, /certificate revoked/, 'revoked');
  });

  it('another root with the same name: both refuse, the plugin with "chain"', async () => {
    const w = await world('sgx');
    const other = await world('sgx');
    await check(w, 'wrong-root', NOW, /signature failure|unable to get local issuer certificate/, 'chain', other.pki.root.der);
  });

  it('a PCK not yet valid: "certificate is not yet valid" and "expired"', async () => {
    const w = await world('sgx', { pckValidity: { notBefore: new Date('2025-06-02T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') } });
    await check(w, 'young', NOW, /certificate is not yet valid/, 'expired');
  });
});

describe('openssl agrees on the two ECDSA signatures of each quote', () => {
  it.each(VECTORS)('%s: quote signature by the attestation key, QE report signature by the PCK key', (_name, v) => {
    const tag = v === SGX_V3 ? 'sig-sgx' : 'sig-tdx';
    const quote = parseQuote(v.quote());
    // SubjectPublicKeyInfo of a raw P-256 point: fixed prefix, then 04 ‖ x ‖ y.
    const spki = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), Buffer.from([4]), quote.attestationKey]);
    const attestationKey = file(`${tag}-ak.pem`, toPem(spki, 'PUBLIC KEY'));
    const [leaf] = certificatesFromPem(Buffer.from(quote.pckChain).toString('latin1'), 'chain');
    const pckKey = file(`${tag}-pck.pub`, leaf!.x509.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const cases: [string, Uint8Array, Uint8Array][] = [
      [attestationKey, quote.signedBytes, quote.signature],
      [pckKey, quote.qeReportBytes, quote.qeReportSignature],
    ];
    for (const [key, data, rs] of cases) {
      const signature = file(`${tag}.sig`, derSignatureOfP1363(rs));
      expect(opensslDigestVerify('sha256', { key, signature, data: file(`${tag}.bin`, data) }).out).toMatch(/Verified OK/);
      expect(opensslDigestVerify('sha256', { key, signature, data: file(`${tag}.bad`, flipped(data, 60)) }).status).not.toBe(0);
    }
  });
});
