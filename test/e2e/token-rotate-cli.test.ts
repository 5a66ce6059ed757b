/**
 * Issue 13: `covenant token rotate-key` rotates the key of the running server through
 * the API; the next token carries the new kid, and one signed before still verifies.
 */
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimDeployment, type SimDeployment } from '../support/process.js';

const ACCEPTED = `sha256:${'a'.repeat(64)}`;

describe('covenant token rotate-key (real binary, running server)', () => {
  let deployment: SimDeployment;
  const cli = (...args: string[]) => deployment.cli(...args);

  beforeAll(async () => {
    deployment = await startSimDeployment('token-rotate', {
      setup: [
        ['workload', 'create', 'payments/ingest'],
        ['release', 'register', 'payments/ingest', '--version', '1.0.0', '--class', 'sim', '--measurement', ACCEPTED, '--svn', '2'],
        ['policy', 'update', 'payments/ingest', '--accept', '1.0.0', '--reason', 'first release'],
      ],
    });
  });

  afterAll(() => deployment?.stop());

  const attest = async (): Promise<string> => {
    const attested = await cli('attest', '--workload', 'payments/ingest', '--sim', '--measurement', ACCEPTED, '--svn', '2', '--sim-dir', deployment.simDir);
    expect(attested.code, attested.stderr).toBe(0);
    return attested.stdout.trim();
  };

  it('changes the kid of the next token without a restart; the token signed before still verifies', async () => {
    const before = await attest();
    const rotated = await cli('token', 'rotate-key', '--json');
    expect(rotated.code, rotated.stderr).toBe(0);
    const { kid } = JSON.parse(rotated.stdout) as { kid: string };
    expect(kid).not.toBe(decodeProtectedHeader(before).kid);

    const after = await attest();
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    for (const token of [before, after]) {
      const verified = await cli('token', 'verify', token, '--workload', 'payments/ingest');
      expect(verified.code, verified.stderr).toBe(0);
    }

    const text = await cli('token', 'rotate-key');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^new token key [\w-]{43}: signing on this server since \S+, on every replica by \S+\nthe previous key stays in the JWKS until \S+\n$/);
  });
});
