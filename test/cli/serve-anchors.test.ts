/**
 * `covenant serve --anchor CLASS=FILE`: the server's trust anchors for a class whose
 * vendor roots ship with Covenant replace those roots, for that class only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceVerifiers, loadAnchors, parseAnchorFlag } from '../../src/cli/commands/serve.js';
import { EvidenceError } from '../../src/evidence/plugin.js';
import { asyncRejection } from '../support/errors.js';
import { REAL, fixture, fixturePath } from '../evidence/nitro/fixtures.js';

const SGX_ROOT = fileURLToPath(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url));
const AWS_ROOT = fixturePath('aws-nitro-root-g1.pem');

describe('--anchor CLASS=FILE', () => {
  it('names a class whose vendor roots ship, and adds up when repeated', () => {
    expect(parseAnchorFlag('nitro=/etc/a=b.pem')).toEqual([{ tee: 'nitro', file: '/etc/a=b.pem' }]);
    expect(parseAnchorFlag('sgx=x.der', parseAnchorFlag('nitro=y.pem'))).toEqual([
      { tee: 'nitro', file: 'y.pem' },
      { tee: 'sgx', file: 'x.der' },
    ]);
  });

  it('refuses other classes and shapes as usage errors, naming the choices', () => {
    for (const [value, message] of [
      ['tpm=ak.pem', /"tpm" ships no vendor root to replace; one of sev-snp, azure-snp-vtpm, sgx, tdx, nitro, nvidia-gpu \(sim: --sim-dir; tpm: --tpm-anchor\)/],
      ['bogus=x', /"bogus" ships no vendor root/],
      ['nitro=', /must be CLASS=FILE/],
      ['=x.pem', /must be CLASS=FILE/],
      ['nitro', /must be CLASS=FILE/],
    ] as const) {
      expect(() => parseAnchorFlag(value), value).toThrow(InvalidArgumentError);
      expect(() => parseAnchorFlag(value), value).toThrow(message);
    }
  });
});

describe('the anchors a server starts with', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-anchors-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('are read before the start and must hold certificates', async () => {
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'not a certificate\n');
    const missing = await asyncRejection(loadAnchors([{ tee: 'nitro', file: join(dir, 'nowhere.pem') }]));
    expect(missing.type).toBe('bad-request');
    expect(missing.message).toMatch(/^cannot read --anchor nitro .*nowhere\.pem: no such file$/);
    const notCertificate = await asyncRejection(loadAnchors([{ tee: 'nitro', file: junk }]));
    expect(notCertificate.type).toBe('bad-request');
    expect(notCertificate.message).toBe(`--anchor nitro=${junk} holds no PEM or DER certificate`);
  });

  it('replace the shipped roots of their class only', async () => {
    const anchors = await loadAnchors([
      { tee: 'nitro', file: SGX_ROOT },
      { tee: 'nitro', file: SGX_ROOT },
    ]);
    expect(anchors.get('nitro')).toHaveLength(2);
    const verifiers = await evidenceVerifiers({ dir: join(dir, 'no-sim'), explicit: false }, [], anchors);
    expect(verifiers.map((v) => [v.plugin.teeClass, v.trustAnchors?.length])).toEqual([
      ['sev-snp', undefined],
      ['nitro', 2],
      ['sgx', undefined],
      ['tdx', undefined],
      ['azure-snp-vtpm', undefined],
      ['nvidia-gpu', undefined],
    ]);
    // The real AWS document no longer chains to a trusted root: the AWS root was replaced.
    const nitro = verifiers.find((v) => v.plugin.teeClass === 'nitro')!;
    const refused = await nitro.plugin.verify(REAL.document(), { now: REAL.now, trustAnchors: nitro.trustAnchors! }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(EvidenceError);
    expect((refused as EvidenceError).reason).toBe('chain');
  });

  it('may name the vendor root itself, which verifies as the shipped one does', async () => {
    const verifiers = await evidenceVerifiers({ dir: join(dir, 'no-sim'), explicit: false }, [], await loadAnchors([{ tee: 'nitro', file: AWS_ROOT }]));
    const nitro = verifiers.find((v) => v.plugin.teeClass === 'nitro')!;
    expect(nitro.trustAnchors).toEqual([fixture('aws-nitro-root-g1.pem')]);
    const claims = await nitro.plugin.verify(REAL.document(), { now: REAL.now, trustAnchors: nitro.trustAnchors! });
    expect(claims.teeClass).toBe('nitro');
  });
});
