/**
 * Issue 13: starting over with a new data directory, through the real binary with
 * COVENANT_HOME in a temporary folder. audit verify still fails (exit 4) but says the
 * server's ledger is another one and how to re-pin on purpose; a profile lost beside its
 * member key is re-created for that key, not by a new one.
 */
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServerProcess, type ServerProcess } from '../support/process.js';

describe('starting over (real binary, real server)', () => {
  let root: string;
  let server: ServerProcess | undefined;
  let env: NodeJS.ProcessEnv;
  const home = () => join(root, 'home');
  const profilePath = () => join(home(), 'profile.json');
  const readProfile = async () => JSON.parse(await readFile(profilePath(), 'utf8')) as Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);
  const serve = async (dataDir: string) => {
    await server?.stop();
    server = await startServerProcess(['--data-dir', join(root, dataDir)], { COVENANT_HOME: home() });
    env = { COVENANT_HOME: home(), COVENANT_SERVER: server.url };
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-starting-over-'));
  });

  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('tells a new data directory from tampering, and re-pins only with --yes', async () => {
    await serve('first');
    const first = await readProfile();
    expect(first.pinnedAt).toMatch(/Z$/);
    expect((await cli('audit', 'verify')).code).toBe(0);
    // The verified log's first entry is pinned too.
    expect((await readProfile()).ledgerStart).toMatch(/^[0-9a-f]{64}$/);

    // The data directory moved aside: a new one, with new log keys, under the same profile.
    await serve('second');
    const moved = await cli('audit', 'verify');
    expect(moved.code).toBe(4);
    expect(moved.stderr).toMatch(/this server's ledger is not the one this profile was pinned to \(a new data directory\?\)/);
    expect(moved.stderr).toMatch(/if you started over on purpose, run `covenant profile reset --yes` to pin it — otherwise treat this as tampering/);

    // A profile written before the first entry or the pin time were recorded says the same.
    const { pinnedAt: _p, ledgerStart: _l, ...old } = await readProfile();
    await writeFile(profilePath(), JSON.stringify(old));
    const oldProfile = await cli('audit', 'verify');
    expect(oldProfile.code).toBe(4);
    expect(oldProfile.stderr).toMatch(/a new data directory\?/);

    const unconfirmed = await cli('profile', 'reset');
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/nothing changed: .* run again with --yes/);
    expect((await readProfile()).logKey).toBe(first.logKey);

    const reset = await cli('profile', 'reset', '--yes');
    expect(reset.code, reset.stderr).toBe(0);
    const repinned = await readProfile();
    expect(repinned.logKey).not.toBe(first.logKey);
    expect(repinned.member).toBe('admin');
    expect((await cli('audit', 'verify')).code).toBe(0);

    // The same log under another key is not "starting over": plain tampering.
    await writeFile(profilePath(), JSON.stringify({ ...repinned, logKey: first.logKey }));
    const swapped = await cli('audit', 'verify');
    expect(swapped.code).toBe(4);
    expect(swapped.stderr).toMatch(/the server's log key \S+ is not the one pinned in .*profile\.json .*: treat this as tampering/);
    expect(swapped.stderr).not.toMatch(/new data directory/);
    await writeFile(profilePath(), JSON.stringify(repinned));
  });

  it('a member key without its profile says how to re-create the profile, and profile reset does it with the same key', async () => {
    const key = await readFile(join(home(), 'member.pem'), 'utf8');
    await unlink(profilePath());
    const refused = await cli('workload', 'create', 'payments/ingest');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/member\.pem exists but .*profile\.json does not: re-create the profile for this key with `covenant profile reset --yes`/);
    expect(refused.stderr).not.toMatch(/run `covenant init`/);

    const reset = await cli('profile', 'reset', '--yes');
    expect(reset.code, reset.stderr).toBe(0);
    expect((await readProfile()).member).toBe('admin');
    expect(await readFile(join(home(), 'member.pem'), 'utf8')).toBe(key);
    const created = await cli('workload', 'create', 'payments/ingest');
    expect(created.code, created.stderr).toBe(0);
  });
});
