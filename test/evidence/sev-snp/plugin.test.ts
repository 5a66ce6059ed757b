import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import type { Claims, EvidenceFailure, VerifyContext } from '../../../src/evidence/plugin.js';
import { sevSnpPlugin } from '../../../src/evidence/sev-snp/index.js';
import { AZURE_V3, fixture, MILAN_V2, VLEK_V3, xorAt } from './fixtures.js';

async function refusal(evidence: Uint8Array, context: VerifyContext): Promise<EvidenceError> {
  try {
    await sevSnpPlugin.verify(evidence, context);
  } catch (err) {
    expect(err).toBeInstanceOf(EvidenceError);
    return err as EvidenceError;
  }
  throw new Error('expected a rejection');
}

const milanCtx = (): VerifyContext => ({ now: MILAN_V2.now, collateral: [MILAN_V2.vcek()] });
const vlekCtx = (now = VLEK_V3.now): VerifyContext => ({ now, collateral: [VLEK_V3.vlek()] });

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  xorAt(copy, at, 0x01);
  return copy;
}

describe('sevSnpPlugin', () => {
  it('declares its class and media types', () => {
    expect(sevSnpPlugin.teeClass).toBe('sev-snp');
    expect(sevSnpPlugin.mediaTypes).toContain('application/vnd.amd.sev-snp.report');
  });
});

describe('go-sev-guest Milan v2 (VCEK)', () => {
  it('is valid at 2022-09-24T01:00:00Z with the documented claims, using the shipped roots', async () => {
    const claims: Claims = await sevSnpPlugin.verify(MILAN_V2.report(), milanCtx());
    expect(claims).toMatchObject({
      teeClass: 'sev-snp',
      measurements: [{ alg: 'sha384', hex: 'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01' }],
      securityVersion: 0,
      debug: true,
      tcb: { bootloader: 2, tee: 0, snp: 5, microcode: 68 },
      config: {},
      reportData: '0102030405' + '00'.repeat(59),
    });
    expect(claims.signer).toBeUndefined();
    expect(claims.product).toBeUndefined();
    expect(claims.details).toMatchObject({
      version: 2,
      vmpl: 0,
      policy: '0xb0000',
      platformInfo: '0x1',
      signingKey: 'vcek',
      chipIdChecked: true,
      productName: 'Milan-B0',
      currentFirmware: '1.49.3',
      reportedTcb: { raw: '4405000000000002' },
      endorsementIssuer: 'SEV-Milan',
      root: 'ARK-Milan',
    });
    expect(claims.details.cpuidFamily).toBeUndefined();
    expect(JSON.parse(JSON.stringify(claims))).toEqual(claims);
  });

  it('is valid across the VCEK window and expired outside it', async () => {
    await expect(sevSnpPlugin.verify(MILAN_V2.report(), { ...milanCtx(), now: new Date('2029-09-24T00:55:28Z') })).resolves.toBeDefined();
    expect((await refusal(MILAN_V2.report(), { ...milanCtx(), now: new Date('2029-09-24T00:55:29Z') })).reason).toBe('expired');
    expect((await refusal(MILAN_V2.report(), { ...milanCtx(), now: new Date('2022-09-24T00:55:27Z') })).reason).toBe('expired');
  });

  it('accepts explicit trust anchors (PEM bundle) and the VCEK as PEM', async () => {
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(MILAN_V2.vcek()).toString('base64')}\n-----END CERTIFICATE-----\n`;
    const claims = await sevSnpPlugin.verify(MILAN_V2.report(), {
      now: MILAN_V2.now,
      trustAnchors: [fixture('milan-ask-ark.pem')],
      collateral: [new TextEncoder().encode(pem)],
    });
    expect(claims.details.root).toBe('ARK-Milan');
  });

  it('refuses with Genoa roots (wrong product) as chain', async () => {
    const err = await refusal(MILAN_V2.report(), { ...milanCtx(), trustAnchors: [fixture('genoa-ask-ark.pem')] });
    expect(err.reason).toBe('chain');
  });

  it('refuses when the Milan ASK/ARK only arrive as collateral and Genoa is trusted', async () => {
    const err = await refusal(MILAN_V2.report(), {
      now: MILAN_V2.now,
      trustAnchors: [fixture('genoa-ask-ark.pem')],
      collateral: [MILAN_V2.vcek(), fixture('milan-ask-ark.pem')],
    });
    expect(err.reason).toBe('chain');
  });

  it('refuses trust anchors that are not certificates', async () => {
    const err = await refusal(MILAN_V2.report(), { ...milanCtx(), trustAnchors: [new TextEncoder().encode('not a cert')] });
    expect(err.reason).toBe('chain');
  });

  it.each<[string, VerifyContext['collateral']]>([
    ['no collateral', undefined],
    ['empty collateral', []],
    ['only CA certificates', [fixture('milan-ask-ark.pem')]],
    ['garbage', [new Uint8Array([0x30, 0x82, 0x01])]],
  ])('reports missing-collateral with %s', async (_label, collateral) => {
    const err = await refusal(MILAN_V2.report(), { now: MILAN_V2.now, ...(collateral === undefined ? {} : { collateral }) });
    expect(err.reason).toBe('missing-collateral');
    expect(err.message).toMatch(/VCEK/);
  });

  it('refuses a valid VCEK of another chip and TCB as endorsement-mismatch', async () => {
    // Its key differs too, so the signature would also fail; the endorsement check names the fault.
    const err = await refusal(MILAN_V2.report(), { now: new Date('2026-01-01T00:00:00Z'), collateral: [AZURE_V3.vcek()] });
    expect(err.reason).toBe('endorsement-mismatch');
    expect(err.message).toMatch(/CHIP_ID/);
    const err2 = await refusal(AZURE_V3.report(), { now: new Date('2026-01-01T00:00:00Z'), collateral: [MILAN_V2.vcek()] });
    expect(err2.reason).toBe('endorsement-mismatch');
  });

  it('picks the matching VCEK when collateral holds several', async () => {
    const claims = await sevSnpPlugin.verify(AZURE_V3.report(), { now: AZURE_V3.now, collateral: [MILAN_V2.vcek(), AZURE_V3.vcek()] });
    expect(claims.details.productName).toBe('Milan-B0');
  });

  it('refuses an unsigned report', async () => {
    const bytes = MILAN_V2.report();
    bytes[0x48] = 7 << 2;
    expect((await refusal(bytes, milanCtx())).reason).toBe('signature');
    const masked = MILAN_V2.report();
    masked[0x48] = 2;
    expect((await refusal(masked, milanCtx())).reason).toBe('signature');
  });

  it('refuses an unknown signature algorithm and version as unsupported', async () => {
    const algo = MILAN_V2.report();
    algo[0x34] = 2;
    expect((await refusal(algo, milanCtx())).reason).toBe('unsupported');
    const version = MILAN_V2.report();
    version[0] = 9;
    const err = await refusal(version, milanCtx());
    expect(err.reason).toBe('unsupported');
    expect(err.message).toMatch(/unknown SEV-SNP report version 9/);
  });

  it('refuses truncated evidence as malformed', async () => {
    expect((await refusal(MILAN_V2.report().subarray(0, 1000), milanCtx())).reason).toBe('malformed');
    expect((await refusal(new Uint8Array(0), milanCtx())).reason).toBe('malformed');
  });
});

describe('tampering with the Milan v2 report', () => {
  const regions: [string, number, EvidenceFailure][] = [
    ['version (now 3: CPUID bytes read, signature fails)', 0x00, 'signature'],
    ['guest svn', 0x04, 'signature'],
    ['policy', 0x0a, 'signature'],
    ['byte 42 (image id)', 42, 'signature'],
    ['vmpl', 0x30, 'signature'],
    ['current tcb', 0x38, 'signature'],
    ['report data', 0x50, 'signature'],
    ['report data, last byte', 0x8f, 'signature'],
    ['measurement', 0x90, 'signature'],
    ['measurement, last byte', 0xbf, 'signature'],
    ['host data', 0xc0, 'signature'],
    ['author key digest', 0x110, 'signature'],
    ['reported tcb: bootloader (byte 384)', 384, 'endorsement-mismatch'],
    ['reported tcb: microcode', 0x187, 'endorsement-mismatch'],
    ['reported tcb: reserved byte', 0x182, 'signature'],
    ['chip id', 0x1a0, 'endorsement-mismatch'],
    ['committed tcb', 0x1e0, 'signature'],
    ['launch tcb', 0x1f0, 'signature'],
    ['reserved, last signed byte', 0x29f, 'signature'],
    ['signature r', 0x2a0, 'signature'],
    ['signature s', 0x2a0 + 72, 'signature'],
    ['signature r, above 48 bytes', 0x2a0 + 50, 'signature'],
  ];

  it.each(regions)('%s → %s', async (_label, at, reason) => {
    expect((await refusal(flipped(MILAN_V2.report(), at), milanCtx())).reason).toBe(reason);
  });
});

describe('trustee Milan VLEK v3', () => {
  it('is valid at 2025-06-01T00:00:00Z with the shipped roots (ASVK)', async () => {
    const claims = await sevSnpPlugin.verify(VLEK_V3.report(), vlekCtx());
    expect(claims).toMatchObject({
      measurements: [{ alg: 'sha384', hex: '8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0' }],
      debug: false,
      tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 217 },
      reportData: '819770b7e6ea6df8dd8fd4dd146b073c0bf4f3ce5b0977ecac486e3a05ed1bd54e2a7ac1f5d1ca02e7d7d5ef9f73b8574fd9359e3a480d741a4478e8a7bc27ca',
    });
    expect(claims.details).toMatchObject({
      version: 3,
      vmpl: 1,
      policy: '0x30000',
      signingKey: 'vlek',
      chipIdChecked: false,
      cpuidFamily: 0x19,
      cpuidModel: 0x01,
      cpuidStepping: 0x01,
      productName: 'Milan',
      cspId: 'CN=cc-us-east-2.amazonaws.com',
      endorsementIssuer: 'SEV-VLEK-Milan',
      currentTcb: { microcode: 220 },
      committedTcb: { microcode: 219 },
    });
  });

  it('is valid with the trustee Milan ASK/ARK/ASVK bundle as anchors', async () => {
    await expect(sevSnpPlugin.verify(VLEK_V3.report(), { ...vlekCtx(), trustAnchors: [fixture('milan-ask-ark-asvk.pem')] })).resolves.toBeDefined();
  });

  it('is expired today (2026-11-22): the VLEK ended 2025-12-10', async () => {
    const err = await refusal(VLEK_V3.report(), vlekCtx(VLEK_V3.today));
    expect(err.reason).toBe('expired');
    expect(err.message).toMatch(/SEV-VLEK.*2025-12-10/);
  });

  it('refuses byte 42 as signature (upstream check_vlek_report_signature)', async () => {
    expect((await refusal(flipped(VLEK_V3.report(), 42), vlekCtx())).reason).toBe('signature');
  });

  it('refuses byte 384 as endorsement-mismatch (upstream verify_report_tcb)', async () => {
    const err = await refusal(flipped(VLEK_V3.report(), 384), vlekCtx());
    expect(err.reason).toBe('endorsement-mismatch');
    expect(err.message).toMatch(/blSPL/);
  });

  it('refuses ASK-only anchors: a VLEK needs the ASVK', async () => {
    expect((await refusal(VLEK_V3.report(), { ...vlekCtx(), trustAnchors: [fixture('milan-ask-ark.pem')] })).reason).toBe('chain');
  });

  it('needs the VLEK: a VCEK alone is missing collateral', async () => {
    const err = await refusal(VLEK_V3.report(), { now: VLEK_V3.now, collateral: [MILAN_V2.vcek()] });
    expect(err.reason).toBe('missing-collateral');
    expect(err.message).toMatch(/VLEK.*only a VCEK/);
  });

  it('picks the key by SIGNING_KEY: a VCEK-flagged copy cannot use the VLEK', async () => {
    const bytes = VLEK_V3.report();
    bytes[0x48] = 0;
    expect((await refusal(bytes, vlekCtx())).reason).toBe('missing-collateral');
  });
});

describe('Azure Milan v3 (VCEK, ID block)', () => {
  it('is valid at 2026-01-01 with signer, product and SVN from the ID block', async () => {
    const claims = await sevSnpPlugin.verify(AZURE_V3.report(), { now: AZURE_V3.now, collateral: [AZURE_V3.vcek()] });
    expect(claims).toMatchObject({
      signer: '942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177',
      product: '02212000000000000000000000000000',
      securityVersion: 10,
      debug: false,
      tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
    });
    expect(claims.reportData?.slice(64)).toBe('0'.repeat(64));
    expect(claims.details).toMatchObject({ version: 3, policy: '0x3001f', signingKey: 'vcek', chipIdChecked: true, productName: 'Milan-B0' });
  });
});
