import { createHash } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256, sgxPlugin, tdxPlugin, trustedPlatforms } from '../../../src/evidence/dcap/index.js';
import { pemBlocks } from '../../../src/evidence/x509/pem.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { expectRefused } from '../refusal.js';
import { rootCa } from '../x509/pki.js';
import { collateralDoc, contextOf, encodeDoc, flipped, INTEL_ROOT_DER, layout, SGX_V3, TDX_V4, TDX_V5_OUTDATED, type Vector } from './fixtures.js';
import { VALIDITY } from './synthetic.js';

/**
 * The three real vectors (dcap-qvl samples) through the plugins: documented claims and
 * statuses at the documented times, and a typed refusal for every kind of damage.
 */

beforeEach(() => {
  // Cold verifications unless a test says otherwise, so a refusal is the cold one.
  trustedPlatforms.clear();
});

const ms = (d: Date, delta: number): Date => new Date(d.getTime() + delta);

describe('plugins', () => {
  it('declare their class and media types', () => {
    expect(sgxPlugin.teeClass).toBe('sgx');
    expect(sgxPlugin.mediaTypes).toEqual(['application/vnd.intel.sgx.quote']);
    expect(tdxPlugin.teeClass).toBe('tdx');
    expect(tdxPlugin.mediaTypes).toEqual(['application/vnd.intel.tdx.quote']);
  });

  it('ship the Intel SGX Root CA, SHA-256 44a0196b…74d3, the root of the vectors', () => {
    const der = pemBlocks(INTEL_SGX_ROOT_CA_PEM)?.[0] ?? new Uint8Array();
    expect(createHash('sha256').update(der).digest('hex')).toBe('44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3');
    expect(INTEL_SGX_ROOT_CA_SHA256).toBe('44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3');
    expect(Buffer.from(der).equals(Buffer.from(INTEL_ROOT_DER()))).toBe(true);
  });
});

describe('SGX quote v3 (dcap-qvl sample/sgx_quote)', () => {
  it('verifies at 2025-07-01: ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615', async () => {
    const claims = await sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3));
    expect(claims).toMatchObject({
      teeClass: 'sgx',
      measurements: [{ alg: 'sha256', hex: '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb' }],
      signer: '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6',
      product: '0',
      securityVersion: 0,
      debug: false,
      tcbStatus: 'ConfigurationAndSWHardeningNeeded',
      config: {},
      reportData: Buffer.from('Hello, world!').toString('hex') + '00'.repeat(51),
    });
    expect(claims.tcb).toMatchObject({ sgxtcbcomp01: 11, sgxtcbcomp02: 11, sgxtcbcomp05: 255, sgxtcbcomp07: 0, sgxtcbcomp08: 0, pcesvn: 13 });
    expect(claims.details).toMatchObject({
      quoteVersion: 3,
      intelTcbStatus: 'ConfigurationAndSWHardeningNeeded',
      advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'],
      tcbDate: '2024-03-13T00:00:00.000Z',
      tcbEvaluationDataNumber: 17,
      fmspc: '00a067110000',
      pceId: '0000',
      sgxType: 0,
      attributes: '0500000000000000e700000000000000',
      miscselect: '00000000',
      cpusvn: '0b0b1a18ffff04000000000000000000',
      configSvn: 0,
      pck: { issuer: expect.stringMatching(/^CN=Intel SGX PCK Processor CA/) },
      qeIdentity: { id: 'QE', status: 'UpToDate', isvSvn: 10, mrSigner: '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff' },
      collateral: {
        tcbInfoIssueDate: '2025-06-19T10:56:11.000Z',
        tcbInfoNextUpdate: '2025-07-19T10:56:11.000Z',
        qeIdentityIssueDate: '2025-06-19T10:01:18.000Z',
        qeIdentityNextUpdate: '2025-07-19T10:01:18.000Z',
        validUntil: '2025-07-19T10:01:18.000Z',
      },
    });
    expect(claims.publicKey).toBeUndefined();
  });
});

describe('TDX quote v4 (dcap-qvl sample/tdx_quote)', () => {
  it('verifies at 2025-07-01: UpToDate, no advisories, with the documented TD claims', async () => {
    const claims = await tdxPlugin.verify(TDX_V4.quote(), contextOf(TDX_V4));
    expect(claims).toMatchObject({
      teeClass: 'tdx',
      measurements: [{ alg: 'sha384', hex: '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7' }],
      debug: false,
      tcbStatus: 'UpToDate',
      reportData: '9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20',
      config: {
        rtmr0: { alg: 'sha384', hex: '44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0' },
        rtmr1: { alg: 'sha384', hex: '0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378' },
        rtmr2: { alg: 'sha384', hex: 'd833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132' },
        rtmr3: { alg: 'sha384', hex: '00'.repeat(48) },
      },
    });
    // MRCONFIGID, MROWNER and MROWNERCONFIG are zero: no claim.
    expect(Object.keys(claims.config).sort()).toEqual(['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']);
    expect(claims.signer).toBeUndefined();
    expect(claims.tcb).toMatchObject({ sgxtcbcomp08: 5, pcesvn: 11, tdxtcbcomp01: 6, tdxtcbcomp02: 1, tdxtcbcomp03: 3 });
    expect(claims.details).toMatchObject({
      quoteVersion: 4,
      intelTcbStatus: 'UpToDate',
      advisoryIds: [],
      fmspc: 'b0c06f000000',
      teeTcbSvn: '06010300000000000000000000000000',
      mrSeam: '5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1',
      mrSignerSeam: '00'.repeat(48),
      tdAttributes: '0000001000000000',
      xfam: 'e702060000000000',
      tdxModule: { id: 'TDX_01', status: 'UpToDate' },
      qeIdentity: { id: 'TD_QE', status: 'UpToDate', isvSvn: 6 },
      pck: { issuer: expect.stringMatching(/^CN=Intel SGX PCK Platform CA/) },
    });
  });
});

describe('TDX quote v5 (dcap-qvl sample/tdx_quote_outdated)', () => {
  it("is refused at 2026-03-01 because no TCB level matches the platform (component 8 is 3, every level wants 5)", async () => {
    await expectRefused(
      tdxPlugin.verify(TDX_V5_OUTDATED.quote(), contextOf(TDX_V5_OUTDATED)),
      'endorsement-mismatch',
      /no TCB level in the TCB info matches the platform's TCB \(SGX components 3,3,2,2,4,1,0,3,0,0,0,0,0,0,0,0, PCESVN 13\).*TCB not supported/,
    );
  });

  it('passes every signature check before that: damage to signed bytes is refused earlier, as a signature', async () => {
    const at = layout(TDX_V5_OUTDATED.quote());
    for (const offset of [at.mrTd, at.reportData, at.signature, at.qeReport, at.qeSignature]) {
      await expectRefused(tdxPlugin.verify(flipped(TDX_V5_OUTDATED.quote(), offset as number), contextOf(TDX_V5_OUTDATED)), 'signature');
    }
  });
});

const VECTORS: readonly (readonly [string, Vector, typeof sgxPlugin])[] = [
  [SGX_V3.name, SGX_V3, sgxPlugin],
  [TDX_V4.name, TDX_V4, tdxPlugin],
];

describe.each(VECTORS)('%s: time', (_name, v, plugin) => {
  it('is valid at both ends of the collateral window, bounds included', async () => {
    await expect(plugin.verify(v.quote(), contextOf(v, v.from))).resolves.toBeDefined();
    await expect(plugin.verify(v.quote(), contextOf(v, v.until))).resolves.toBeDefined();
  });

  it.each([
    ['a second before the window', -1_000, 'from'],
    ['a second after the window', 1_000, 'until'],
    ['years later (certificates and CRLs stale)', 4 * 365 * 86_400_000, 'until'],
    ['before any of it was issued', -400 * 86_400_000, 'from'],
  ] as const)("is 'expired' %s", async (_label, delta, edge) => {
    await expectRefused(plugin.verify(v.quote(), contextOf(v, ms(v[edge], delta))), 'expired');
  });

  it("refuses a wrong root with 'chain'", async () => {
    const impostor = await rootCa('CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US', VALIDITY);
    await expectRefused(plugin.verify(v.quote(), { ...contextOf(v), trustAnchors: [impostor.der] }), 'chain');
  });

  it('accepts the Intel root given explicitly (DER or PEM) as it does the shipped one', async () => {
    const shipped = await plugin.verify(v.quote(), contextOf(v));
    expect(await plugin.verify(v.quote(), { ...contextOf(v), trustAnchors: [INTEL_ROOT_DER()] })).toEqual(shipped);
    expect(await plugin.verify(v.quote(), { ...contextOf(v), trustAnchors: [new TextEncoder().encode(INTEL_SGX_ROOT_CA_PEM)] })).toEqual(shipped);
  });

  it("refuses trust anchors that are no certificates with 'chain'", async () => {
    await expectRefused(plugin.verify(v.quote(), { ...contextOf(v), trustAnchors: [new TextEncoder().encode('not a certificate')] }), 'chain');
  });
});

describe.each(VECTORS)('%s: a byte flipped in each signed region', (_name, v, plugin) => {
  const at = layout(v.quote());
  const tdx = v === TDX_V4;
  it.each([
    ['header user data', at.userData],
    [tdx ? 'MRTD' : 'MRENCLAVE', tdx ? at.mrTd : at.mrEnclave],
    [tdx ? 'RTMR0' : 'MRSIGNER', tdx ? at.rtmr0 : at.mrSigner],
    ['report data', (at.reportData ?? 0) + 5],
    ['the quote signature', (at.signature ?? 0) + 10],
    ['the attestation key', (at.key ?? 0) + 3],
    ['the QE report', (at.qeReport ?? 0) + 100],
    ['the QE report signature', (at.qeSignature ?? 0) + 7],
    ['the QE authentication data', at.authData],
  ])("%s is refused as 'signature'", async (_region, offset) => {
    await expectRefused(plugin.verify(flipped(v.quote(), offset ?? 0), contextOf(v)), 'signature');
  });

  it('a flipped header version or key type is refused as unsupported, by name', async () => {
    await expectRefused(plugin.verify(flipped(v.quote(), 0, 0x04), contextOf(v)), 'unsupported', /version/);
    await expectRefused(plugin.verify(flipped(v.quote(), 2, 0x01), contextOf(v)), 'unsupported', /attestation key type 3 \(ECDSA-384-with-P-384\)/);
  });

  it("the TCB info JSON: one character changed is refused as 'signature'", async () => {
    const doc = collateralDoc(v);
    doc.tcb_info = (doc.tcb_info ?? '').replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18');
    await expectRefused(plugin.verify(v.quote(), { now: v.now, collateral: [encodeDoc(doc)] }), 'signature', /TCB info signature/);
  });

  it("the QE identity JSON: one character changed is refused as 'signature'", async () => {
    const doc = collateralDoc(v);
    doc.qe_identity = (doc.qe_identity ?? '').replace(/"isvprodid":\d/, '"isvprodid":9');
    await expectRefused(plugin.verify(v.quote(), { now: v.now, collateral: [encodeDoc(doc)] }), 'signature', /QE identity signature/);
  });

  it.each(['tcb_info_signature', 'qe_identity_signature'])("a flipped bit in %s is refused as 'signature'", async (key) => {
    const doc = collateralDoc(v);
    const sig = Buffer.from(doc[key] ?? '', 'hex');
    sig[20] = (sig[20] ?? 0) ^ 0x01;
    doc[key] = sig.toString('hex');
    await expectRefused(plugin.verify(v.quote(), { now: v.now, collateral: [encodeDoc(doc)] }), 'signature');
  });

  it.each(['pck_crl', 'root_ca_crl'])("%s: a changed byte in its signed part is refused as 'chain'", async (key) => {
    const doc = collateralDoc(v);
    const der = Buffer.from(doc[key] ?? '', 'hex');
    // The thisUpdate year's last digit: still a valid CRL, no longer the signed one.
    const utcTime = der.indexOf(Buffer.from([0x17, 0x0d]));
    der[utcTime + 3] = (der[utcTime + 3] ?? 0) ^ 0x01;
    doc[key] = der.toString('hex');
    await expectRefused(plugin.verify(v.quote(), { now: v.now, collateral: [encodeDoc(doc)] }), 'chain', /CRL/);
  });

  it.each(['pck_crl', 'root_ca_crl'])("without %s it is 'missing-collateral'", async (key) => {
    const doc = collateralDoc(v);
    delete doc[key];
    await expectRefused(plugin.verify(v.quote(), { now: v.now, collateral: [encodeDoc(doc)] }), 'missing-collateral', /no CRL from CN=Intel SGX/);
  });
});

describe('collateral and context', () => {
  it("no collateral at all is 'missing-collateral'", async () => {
    await expectRefused(sgxPlugin.verify(SGX_V3.quote(), { now: SGX_V3.now }), 'missing-collateral');
    await expectRefused(tdxPlugin.verify(TDX_V4.quote(), { now: TDX_V4.now, collateral: [] }), 'missing-collateral');
  });

  it.each([
    ['tcb_info', /no TCB info/],
    ['qe_identity', /no QE identity/],
  ])("without %s it is 'missing-collateral'", async (key, message) => {
    const doc = collateralDoc(SGX_V3);
    delete doc[key];
    await expectRefused(sgxPlugin.verify(SGX_V3.quote(), { now: SGX_V3.now, collateral: [encodeDoc(doc)] }), 'missing-collateral', message);
  });

  it("without the TCB signing chain it is 'missing-collateral'", async () => {
    const doc = collateralDoc(SGX_V3);
    delete doc.tcb_info_issuer_chain;
    delete doc.qe_identity_issuer_chain;
    await expectRefused(sgxPlugin.verify(SGX_V3.quote(), { now: SGX_V3.now, collateral: [encodeDoc(doc)] }), 'missing-collateral', /TCB signing certificate/);
  });

  it('accepts the same collateral as Intel PCS serves it: TCB info and QE identity bodies, issuer chains, CRLs', async () => {
    for (const [, v, plugin] of VECTORS) {
      const doc = collateralDoc(v);
      const text = (s: string): Uint8Array => new TextEncoder().encode(s);
      // Signed over the inner value's exact text; the outer document is laid out differently on purpose.
      const pcs = [
        text(`{\n  "tcbInfo": ${doc.tcb_info},\n  "signature": "${doc.tcb_info_signature}"\n}`),
        text(`{"enclaveIdentity":${doc.qe_identity},"signature":"${doc.qe_identity_signature}"}`),
        text(doc.tcb_info_issuer_chain ?? ''),
        text(doc.pck_crl_issuer_chain ?? ''),
        new Uint8Array(Buffer.from(doc.pck_crl ?? '', 'hex')),
        text(doc.root_ca_crl ?? ''),
      ];
      const expected = await plugin.verify(v.quote(), contextOf(v));
      expect(await plugin.verify(v.quote(), { now: v.now, collateral: pcs })).toEqual(expected);
    }
  });

  it('a quote of the other TEE is unsupported by the plugin, by name', async () => {
    await expectRefused(sgxPlugin.verify(TDX_V4.quote(), contextOf(TDX_V4)), 'unsupported', /TDX quote; the sgx plugin/);
    await expectRefused(tdxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3)), 'unsupported', /SGX quote; the tdx plugin/);
  });

  it("the other TEE's collateral is refused: TCB info for SGX given to a TDX quote", async () => {
    const doc = collateralDoc(TDX_V4);
    const sgx = collateralDoc(SGX_V3);
    doc.tcb_info = sgx.tcb_info ?? '';
    doc.tcb_info_signature = sgx.tcb_info_signature ?? '';
    await expectRefused(tdxPlugin.verify(TDX_V4.quote(), { now: TDX_V4.now, collateral: [encodeDoc(doc)] }), 'endorsement-mismatch', /TCB info is for SGX/);
  });

  it('expectedNonce: accepted when REPORTDATA starts with it, refused otherwise', async () => {
    const context = (nonce: Uint8Array): VerifyContext => ({ ...contextOf(SGX_V3), expectedNonce: nonce });
    await expect(sgxPlugin.verify(SGX_V3.quote(), context(new TextEncoder().encode('Hello')))).resolves.toBeDefined();
    await expect(sgxPlugin.verify(SGX_V3.quote(), context(new Uint8Array(0)))).resolves.toBeDefined();
    await expectRefused(sgxPlugin.verify(SGX_V3.quote(), context(new TextEncoder().encode('Hellp'))), 'nonce');
    await expectRefused(sgxPlugin.verify(SGX_V3.quote(), context(new Uint8Array(65))), 'nonce');
  });

  it('an invalid `now` is a bad request, not an evidence refusal', async () => {
    await expect(sgxPlugin.verify(SGX_V3.quote(), { now: new Date(Number.NaN), collateral: [SGX_V3.collateral()] })).rejects.toMatchObject({ type: 'bad-request' });
  });

  it('tolerates the 70 trailing zero bytes of tdx_quote but not a truncated signature area', async () => {
    const q = TDX_V4.quote();
    await expect(tdxPlugin.verify(q.subarray(0, q.length - 70), contextOf(TDX_V4))).resolves.toBeDefined();
    await expectRefused(tdxPlugin.verify(q.subarray(0, q.length - 71), contextOf(TDX_V4)), 'malformed', /truncated/);
  });
});

describe('the callers arrays', () => {
  let claims: Awaited<ReturnType<typeof sgxPlugin.verify>>;
  beforeAll(async () => {
    claims = await sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3));
  });

  it('are not changed, and changing them afterwards changes no claim', async () => {
    const quote = SGX_V3.quote();
    const copy = new Uint8Array(quote);
    const again = await sgxPlugin.verify(quote, contextOf(SGX_V3));
    expect(quote).toEqual(copy);
    quote.fill(0);
    expect(again).toEqual(claims);
  });
});
