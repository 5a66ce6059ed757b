import { beforeAll, describe, expect, it } from 'vitest';
import { loadCertificates } from '../../../src/evidence/sev-snp/certificates.js';
import { parseReport } from '../../../src/evidence/sev-snp/report.js';
import { sevSnpPlugin } from '../../../src/evidence/sev-snp/index.js';
import { certificatePem as pem, derSignature, openssl, opensslDigestVerify, opensslVerify, scratchDirectory, type OpensslResult } from '../openssl.js';
import { fixture, MILAN_V2, VLEK_V3, xorAt } from './fixtures.js';

/**
 * Cross-checks against Debian's `openssl` CLI, an independent X.509 and ECDSA
 * implementation. Missing openssl is a failure, not a skip: the cross-check is the point.
 */

const scratch = scratchDirectory('covenant-snp-openssl-');

beforeAll(() => {
  openssl(['version']);
  const milan = loadCertificates(fixture('milan-ask-ark-asvk.pem')).certs;
  const byCn = (cn: string): Uint8Array => {
    const c = milan.find((x) => x.subjectCn === cn);
    if (!c) throw new Error(`no ${cn}`);
    return c.der;
  };
  scratch.write('ark.pem', pem(byCn('ARK-Milan')));
  scratch.write('ask.pem', pem(byCn('SEV-Milan')));
  scratch.write('asvk.pem', pem(byCn('SEV-VLEK-Milan')));
  scratch.write('vcek.pem', pem(MILAN_V2.vcek()));
  scratch.write('vlek.pem', pem(VLEK_V3.vlek()));
  const genoa = loadCertificates(fixture('genoa-ask-ark.pem')).certs;
  scratch.write('genoa-ark.pem', pem(genoa.find((c) => c.selfIssued)?.der ?? new Uint8Array()));
  scratch.write('genoa-ask.pem', pem(genoa.find((c) => !c.selfIssued)?.der ?? new Uint8Array()));
});

/** openssl's verdict on leaf ← inter ← ark, files of the scratch directory, at `at`. */
const verifyChain = (at: Date, ark: string, inter: string, leaf: string): OpensslResult =>
  opensslVerify({ anchor: scratch.path(ark), untrusted: scratch.path(inter), leaf: scratch.path(leaf) }, at);

describe('openssl agrees on the chains', () => {
  it('Milan VCEK ← ASK ← ARK verifies at the vector time, in both', async () => {
    expect(verifyChain(MILAN_V2.now, 'ark.pem', 'ask.pem', 'vcek.pem')).toMatchObject({ status: 0 });
    await expect(sevSnpPlugin.verify(MILAN_V2.report(), { now: MILAN_V2.now, collateral: [MILAN_V2.vcek()] })).resolves.toBeDefined();
  });

  it('VLEK ← ASVK ← ARK verifies on 2025-06-01 and is expired today, in both', async () => {
    expect(verifyChain(VLEK_V3.now, 'ark.pem', 'asvk.pem', 'vlek.pem').status).toBe(0);
    const today = verifyChain(VLEK_V3.today, 'ark.pem', 'asvk.pem', 'vlek.pem');
    expect(today.status).not.toBe(0);
    expect(today.out).toMatch(/expired/);
    await expect(sevSnpPlugin.verify(VLEK_V3.report(), { now: VLEK_V3.today, collateral: [VLEK_V3.vlek()] })).rejects.toMatchObject({ reason: 'expired' });
  });

  it('Genoa roots do not verify the Milan VCEK, in both', async () => {
    expect(verifyChain(MILAN_V2.now, 'genoa-ark.pem', 'genoa-ask.pem', 'vcek.pem').status).not.toBe(0);
    await expect(
      sevSnpPlugin.verify(MILAN_V2.report(), { now: MILAN_V2.now, collateral: [MILAN_V2.vcek()], trustAnchors: [fixture('genoa-ask-ark.pem')] }),
    ).rejects.toMatchObject({ reason: 'chain' });
  });
});

describe('openssl agrees on the report signature byte conversion', () => {
  it.each([
    ['Milan v2 / VCEK', MILAN_V2.report, MILAN_V2.vcek, 'vcek.pem'],
    ['Milan v3 / VLEK', VLEK_V3.report, VLEK_V3.vlek, 'vlek.pem'],
  ] as const)('%s: r‖s as our parser reads them verify with openssl dgst', (label, report, _cert, leaf) => {
    const bytes = report();
    const parsed = parseReport(bytes);
    const tag = label.replace(/\W+/g, '-');
    const signature = scratch.write(`${tag}.sig`, derSignature(parsed.signatureR, parsed.signatureS));
    const data = scratch.write(`${tag}.bin`, bytes.subarray(0, 0x2a0));
    const pub = openssl(['x509', '-in', scratch.path(leaf), '-pubkey', '-noout']);
    expect(pub.status).toBe(0);
    const key = scratch.write(`${tag}.pub`, pub.out);
    const ok = opensslDigestVerify('sha384', { key, signature, data });
    expect(ok.out).toMatch(/Verified OK/);
    const tampered = Buffer.from(bytes.subarray(0, 0x2a0));
    xorAt(tampered, 42, 1);
    const bad = opensslDigestVerify('sha384', { key, signature, data: scratch.write(`${tag}.bad`, tampered) });
    expect(bad.status).not.toBe(0);
  });
});
