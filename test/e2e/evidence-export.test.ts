/**
 * Issue 13: retained evidence can be exported and re-checked offline, through the real
 * binary against a real server — the round trip docs/attestation.md shows.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimDeployment, type SimDeployment } from '../support/process.js';

const M = `sha256:${'a'.repeat(64)}`;
const W = 'payments/ingest';

describe('covenant evidence export (real binary, real server)', () => {
  let deployment: SimDeployment;
  const cli = (...args: string[]) => deployment.cli(...args);

  beforeAll(async () => {
    deployment = await startSimDeployment('evidence-export', {
      setup: [
        ['workload', 'create', W],
        ['release', 'register', W, '--version', '1.0.0', '--class', 'sim', '--measurement', M],
        ['policy', 'update', W, '--accept', '1.0.0', '--reason', 'first release'],
      ],
    });
  });

  afterAll(() => deployment?.stop());

  it('writes the exact bytes the verdict names, which evidence verify re-checks at the time they were checked', async () => {
    expect((await cli('attest', '--workload', W, '--sim', '--measurement', M, '--sim-dir', deployment.simDir)).code).toBe(0);
    const log = await cli('audit', 'log', '--type', 'attestation.verdict', '--json');
    const [verdict] = JSON.parse(log.stdout) as { seq: number; payload: { evidence: { digest: string } } }[];
    const digest = verdict!.payload.evidence.digest;

    const out = join(deployment.root, 'evidence.json');
    const exported = await cli('evidence', 'export', digest, '--out', out);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain(`verdict entry ${verdict!.seq} of ${W}`);
    expect(`sha256:${createHash('sha256').update(await readFile(out)).digest('hex')}`).toBe(digest);
    const at = /--at (\S+) /.exec(exported.stderr)?.[1];
    expect(exported.stderr).toMatch(/re-check with: covenant evidence verify --type sim --at \S+Z /);

    const verified = await cli('evidence', 'verify', '--type', 'sim', '--at', at!, '--root', join(deployment.simDir, 'vendor-root.pem'), out, '--json');
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ valid: true, claims: { teeClass: 'sim', measurements: [{ alg: 'sha256', hex: 'a'.repeat(64) }] } });
    // Another type is refused by name, not as a garbled sim report.
    const wrong = await cli('evidence', 'verify', '--type', 'nitro', '--at', at!, out);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/is an attestation document holding .* evidence, not --type nitro/);

    // Without --out, the same bytes on standard output.
    const piped = await cli('evidence', 'export', digest);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe((await readFile(out)).toString('utf8'));
  });

  it('says not-found for a digest never kept (exit 1), and refuses a malformed digest as a usage error (exit 2)', async () => {
    const unknown = await cli('evidence', 'export', `sha256:${'0'.repeat(64)}`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no retained evidence sha256:0+: .*pruned after its retention \(not-found, HTTP 404\)/);
    const malformed = await cli('evidence', 'export', 'sha256:XYZ');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/must be sha256: and 64 lowercase hex digits/);
  });
});
