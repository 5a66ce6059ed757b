import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { gce, gceEvidence } from '../evidence/tpm/gce-fixture.js';
import { runCli } from '../support/process.js';

const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
const SNP = {
  milanReport: fixture('sev-snp/milan-v2-attestation.bin'),
  milanVcek: fixture('sev-snp/milan-v2-vcek.der'),
  vlekReport: fixture('sev-snp/milan-vlek-v3-report.bin'),
  vlek: fixture('sev-snp/milan-vlek-v3-vlek.der'),
  genoaRoots: fixture('sev-snp/genoa-ask-ark.pem'),
};
const MILAN_MEASUREMENT = 'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01';
const TPM_ROOTS = ['--root', fixture('tpm-gce/tpm_ek_intermediate_2.crt'), '--root', fixture('tpm-gce/tpm_ek_root_1.cer')];
const TPM_PCR_DIGEST = '048937cbaaf28af85a5b0c0997e725097a0d94e05fcda104a82ee3fb6b2e1808';

interface Refusal {
  valid: false;
  reason: string;
  message: string;
}

describe('covenant evidence verify (offline, real binary)', () => {
  let dir: string;
  // No server exists: a command that tried to reach one would fail with exit 3.
  const env = { COVENANT_SERVER: 'http://127.0.0.1:9', COVENANT_HOME: '/nonexistent-covenant-home' };
  const cli = (...args: string[]) => runCli(['evidence', 'verify', ...args], env);
  const file = async (name: string, content: Uint8Array | string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-evidence-cli-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has --help, and refuses an unknown --type or a bad --at with exit 2', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: covenant evidence verify /);
    expect(help.stdout).not.toContain('--server');

    const badType = await cli('--type', 'foo', '--at', '2022-09-24T01:00:00Z', SNP.milanReport);
    expect(badType.code).toBe(2);
    expect(badType.stderr.split('\n')[0]).toMatch(/--type.*foo/);

    for (const at of ['yesterday', '2022-09-24', '2022-09-24T01:00:00', '2022-02-30T01:00:00Z', '2022-09-24T24:00:00Z']) {
      const badTime = await cli('--type', 'sev-snp', '--at', at, SNP.milanReport, SNP.milanVcek);
      expect(badTime.code, at).toBe(2);
      expect(badTime.stderr.split('\n')[0], at).toMatch(/--at/);
      expect(badTime.stdout).toBe('');
    }
    const noTime = await cli('--type', 'sev-snp', SNP.milanReport, SNP.milanVcek);
    expect(noTime.code).toBe(2);

    const untestableNonce = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', '--nonce', '9009', SNP.milanReport, SNP.milanVcek);
    expect(untestableNonce.code).toBe(2);
    expect(untestableNonce.stderr).toMatch(/--nonce is not checked for --type sev-snp/);
    expect((await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', '--nonce', 'xyz', SNP.milanReport)).code).toBe(2);
  });

  it('reports a missing evidence or collateral file in one line, exit 1', async () => {
    const missing = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', join(dir, 'nope.bin'));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^covenant: cannot read evidence file .*nope\.bin: no such file$/);
    const missingCollateral = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', SNP.milanReport, join(dir, 'vcek.der'));
    expect(missingCollateral.code).toBe(1);
    expect(missingCollateral.stderr.trim().split('\n')).toHaveLength(1);
    const missingRoot = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', '--root', dir, SNP.milanReport, SNP.milanVcek);
    expect(missingRoot.code).toBe(1);
    expect(missingRoot.stderr.trim()).toMatch(/^covenant: cannot read root file .*: is a directory$/);
  });

  describe('sev-snp', () => {
    it('verifies the Milan v2 report with its VCEK against the shipped AMD roots', async () => {
      const human = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', SNP.milanReport, SNP.milanVcek);
      expect(human.stderr).toBe('');
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/^tee +sev-snp$/m);
      expect(human.stdout).toMatch(new RegExp(`^measurement +sha384:${MILAN_MEASUREMENT}$`, 'm'));
      expect(human.stdout).toMatch(/^debug +true$/m);
      expect(human.stdout).toMatch(/^tcb +bootloader=2 tee=0 snp=5 microcode=68$/m);
      expect(human.stdout).toMatch(/^report data +0102030405/m);
      expect(human.stdout).toMatch(/^details\n {2}\{\n {4}"version": 2,/m);

      const json = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', SNP.milanReport, SNP.milanVcek, '--json');
      expect(json.code).toBe(0);
      const result = JSON.parse(json.stdout) as { valid: boolean; claims: { teeClass: string; measurements: unknown; details: Record<string, unknown> } };
      expect(result.valid).toBe(true);
      expect(result.claims.teeClass).toBe('sev-snp');
      expect(result.claims.measurements).toEqual([{ alg: 'sha384', hex: MILAN_MEASUREMENT }]);
      expect(result.claims.details).toMatchObject({ signingKey: 'vcek', root: 'ARK-Milan', productName: 'Milan-B0' });
    });

    it("refuses the VLEK v3 report after its VLEK expired, with reason 'expired'", async () => {
      const human = await cli('--type', 'sev-snp', '--at', '2026-11-22T00:00:00Z', SNP.vlekReport, SNP.vlek);
      expect(human.code).toBe(1);
      expect(human.stdout).toBe('');
      expect(human.stderr.trim()).toMatch(/^covenant: evidence invalid \(expired\): .*SEV-VLEK/);
      expect(human.stderr.trim().split('\n')).toHaveLength(1);

      const json = await cli('--type', 'sev-snp', '--at', '2026-11-22T00:00:00Z', SNP.vlekReport, SNP.vlek, '--json');
      expect(json.code).toBe(1);
      const refusal = JSON.parse(json.stdout) as Refusal;
      expect(refusal).toMatchObject({ valid: false, reason: 'expired' });
      expect(refusal.message).toMatch(/not at 2026-11-22T00:00:00\.000Z/);
      expect(json.stderr).toMatch(/^covenant: evidence invalid \(expired\)/);
    });

    it("refuses the Milan report against a Genoa root given with --root, with reason 'chain'", async () => {
      const result = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', '--root', SNP.genoaRoots, SNP.milanReport, SNP.milanVcek, '--json');
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ valid: false, reason: 'chain' });
      expect(result.stderr).toMatch(/^covenant: evidence invalid \(chain\): /);
    });

    it("refuses the report without its VCEK as 'missing-collateral'", async () => {
      const result = await cli('--type', 'sev-snp', '--at', '2022-09-24T01:00:00Z', SNP.milanReport);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^covenant: evidence invalid \(missing-collateral\): /);
    });
  });

  describe('tpm (GCE vTPM vector)', () => {
    it('verifies with --nonce 9009 and the EK intermediate and root as --root', async () => {
      const evidence = await file('gce-quote.json', gceEvidence());
      const human = await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', '--nonce', '9009', ...TPM_ROOTS, evidence);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(new RegExp(`^measurement +sha256:${TPM_PCR_DIGEST}$`, 'm'));
      expect(human.stdout).toMatch(/^report data +9009$/m);
      expect(human.stdout).toMatch(/^config +pcr0 = sha256:0f35c214/m);

      const json = await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', '--nonce', '9009', ...TPM_ROOTS, evidence, '--json');
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        valid: true,
        claims: { teeClass: 'tpm', measurements: [{ alg: 'sha256', hex: TPM_PCR_DIGEST }], reportData: '9009', details: { ak: { trust: 'certificate' } } },
      });
    });

    it("refuses a wrong nonce with reason 'nonce'", async () => {
      const evidence = await file('gce-quote-nonce.json', gceEvidence());
      const result = await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', '--nonce', '900a', ...TPM_ROOTS, evidence, '--json');
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ valid: false, reason: 'nonce' });
      expect(result.stderr).toMatch(/^covenant: evidence invalid \(nonce\): /);
    });

    it('takes the intermediate as collateral, and a hex AK pin file (with its newline) as --root', async () => {
      const evidence = await file('gce-quote-collateral.json', gceEvidence());
      const viaCollateral = await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', '--root', fixture('tpm-gce/tpm_ek_root_1.cer'), evidence, fixture('tpm-gce/tpm_ek_intermediate_2.crt'));
      expect(viaCollateral.code).toBe(0);

      const pinned = await file('gce-quote-pinned.json', gceEvidence({ akCertificate: undefined }));
      const pin = await file('ak.pin', `${createHash('sha256').update(gce.akPublic).digest('hex')}\n`);
      const result = await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', '--nonce', '9009', '--root', pin, pinned, '--json');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ valid: true, claims: { details: { ak: { trust: 'pinned' } } } });

      const unpinned = await cli('--type', 'tpm', '--at', '2025-01-01T00:00:00Z', pinned);
      expect(unpinned.code).toBe(1);
      expect(unpinned.stderr).toMatch(/^covenant: evidence invalid \(chain\): /);
    });
  });

  describe('sim', () => {
    const T0 = new Date('2025-01-01T00:00:00Z');
    const root = createVendorRoot({ now: T0 });
    const platform = issuePlatformIdentity(root, { now: T0, platformId: 'rack1.node-7', validForDays: 365 });
    const tee = new SimulatedTee(platform, { measurement: `sha384:${'ab'.repeat(48)}`, signer: 'c0ffee', product: 'payments-ingest', svn: 7, debug: false, configDigests: {} });
    const spki = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));

    it('verifies a SimulatedTee report against the vendor root given as a PEM --root', async () => {
      const evidence = await file('sim.json', tee.report(new Uint8Array(32).fill(7), spki));
      const rootPem = await file('sim-root.pem', toPem(root.certificate));
      const human = await cli('--type', 'sim', '--at', '2025-06-01T12:00:00+02:00', '--root', rootPem, evidence);
      expect(human.code).toBe(0);
      expect(human.stderr).toMatch(/^warning: simulated TEE/);
      expect(human.stdout).toMatch(/^tee +sim$/m);
      expect(human.stdout).toMatch(new RegExp(`^measurement +sha384:${'ab'.repeat(48)}$`, 'm'));
      expect(human.stdout).toMatch(/^signer +c0ffee$/m);
      expect(human.stdout).toMatch(/^product +payments-ingest$/m);
      expect(human.stdout).toMatch(/^svn +7$/m);
      expect(human.stdout).toMatch(/^debug +false$/m);

      const json = await cli('--type', 'sim', '--at', '2025-06-01T12:00:00Z', '--root', rootPem, evidence, '--json');
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, claims: { teeClass: 'sim', securityVersion: 7, details: { platformId: 'rack1.node-7' } } });
    });

    it('needs the vendor root, and refuses outside the platform certificate validity', async () => {
      const evidence = await file('sim-2.json', tee.report(new Uint8Array(32).fill(8), spki));
      const rootPem = await file('sim-root-2.pem', toPem(root.certificate));
      const noRoot = await cli('--type', 'sim', '--at', '2025-06-01T12:00:00Z', evidence);
      expect(noRoot.code).toBe(1);
      expect(noRoot.stderr).toMatch(/^covenant: evidence invalid \(missing-collateral\): /);
      const late = await cli('--type', 'sim', '--at', '2027-01-01T00:00:00Z', '--root', rootPem, evidence, '--json');
      expect(late.code).toBe(1);
      expect(JSON.parse(late.stdout)).toMatchObject({ valid: false, reason: 'expired' });
    });
  });

  describe('hardware vectors with the shipped vendor roots', () => {
    const cases = [
      { type: 'nitro', at: '2025-01-06T16:07:05Z', files: ['nitro/yawn-nitro-attest_attestation.cose'], expect: { teeClass: 'nitro' }, later: 'expired' },
      { type: 'sgx', at: '2025-07-01T00:00:00Z', files: ['sgx/sgx_quote', 'sgx/sgx_quote_collateral.json'], expect: { teeClass: 'sgx', tcbStatus: 'ConfigurationAndSWHardeningNeeded' }, later: 'expired' },
      { type: 'tdx', at: '2025-07-01T00:00:00Z', files: ['tdx/tdx_quote', 'tdx/tdx_quote_collateral.json'], expect: { teeClass: 'tdx', tcbStatus: 'UpToDate' }, later: 'expired' },
      { type: 'azure-snp-vtpm', at: '2026-01-01T00:00:00Z', files: ['azure-snp-vtpm/evidence-v1.json'], expect: { teeClass: 'azure-snp-vtpm', reportData: '6368616c6c656e6765' }, later: undefined },
      { type: 'nvidia-gpu', at: '2025-01-01T00:00:00Z', files: ['nvidia-hopper/hopperAttestationReport.txt', 'nvidia-hopper/hopperCertChain.txt'], expect: { teeClass: 'nvidia-gpu', reportData: '931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb' }, later: undefined },
    ] as const;

    for (const c of cases) {
      it(`${c.type}: verifies at its documented time${c.later ? ', and is refused later' : ''}`, async () => {
        const verified = await cli('--type', c.type, '--at', c.at, ...c.files.map(fixture), '--json');
        expect(verified.code, verified.stderr).toBe(0);
        expect(JSON.parse(verified.stdout)).toMatchObject({ valid: true, claims: c.expect });
        if (c.later !== undefined) {
          const late = await cli('--type', c.type, '--at', '2035-01-01T00:00:00Z', ...c.files.map(fixture), '--json');
          expect(late.code).toBe(1);
          expect(JSON.parse(late.stdout)).toMatchObject({ valid: false, reason: c.later });
        }
      });
    }

    it('compares --nonce where the format carries one', async () => {
      const ok = await cli('--type', 'azure-snp-vtpm', '--at', '2026-01-01T00:00:00Z', '--nonce', '6368616c6c656e6765', fixture('azure-snp-vtpm/evidence-v1.json'));
      expect(ok.code, ok.stderr).toBe(0);
      const wrong = await cli('--type', 'azure-snp-vtpm', '--at', '2026-01-01T00:00:00Z', '--nonce', '00', fixture('azure-snp-vtpm/evidence-v1.json'));
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^covenant: evidence invalid \(nonce\): /);
    });
  });
});
