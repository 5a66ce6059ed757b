/**
 * Two replicas of one tenant, made as docs/operations.md says — `covenant init`, copy
 * the data directory, serve both on one PostgreSQL database — share every key: a secret
 * stored through one is released through the other, and both derive the same sealing
 * keys. A replica whose keys/ lacks the key broker's files, or holds others, refuses to
 * start with one line naming the ids and the fix.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServerProcess, type ServerProcess } from '../support/process.js';
import { createPostgresDatabase } from '../store/backends.js';

const WORKLOAD = 'payments/ingest';
const A = `sha256:${'a'.repeat(64)}`;

describe('replicas from one init (real binary, PostgreSQL)', () => {
  let root: string;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const servers: ServerProcess[] = [];
  let env: NodeJS.ProcessEnv;
  const dataDir = (name: string) => join(root, name);
  const serve = async (name: string, more: readonly string[] = ['--sim-dir', join(root, 'sim')]) => {
    const server = await startServerProcess(['--data-dir', dataDir(name), '--store', database.url, '--checkpoint-interval', '0', ...more], env);
    servers.push(server);
    return server;
  };
  const cli = async (...args: string[]) => {
    const result = await runCli(args, env);
    expect(result.code, `covenant ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const kbsGet = (server: ServerProcess, resource: string) =>
    cli('kbs', 'get', resource, '--workload', WORKLOAD, '--sim', '--measurement', A, '--sim-dir', join(root, 'sim'), '--server', server.url);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-replicas-'));
    database = await createPostgresDatabase();
    env = { COVENANT_HOME: join(root, 'home') };
    await cli('sim', 'init', '--dir', join(root, 'sim'));
    await cli('init', '--data-dir', dataDir('first'));
    // The documented way: copy keys/ after init, before the first serve.
    await cp(dataDir('first'), dataDir('second'), { recursive: true });
  });

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await database?.drop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('share the key broker’s keys: a secret stored through one is released through the other, with the same sealing key', async () => {
    const first = await serve('first');
    const second = await serve('second');
    env = { ...env, COVENANT_SERVER: first.url };
    await cli('workload', 'create', WORKLOAD);
    await cli('release', 'register', WORKLOAD, '--version', '1.0.0', '--class', 'sim', '--measurement', A);
    await cli('policy', 'update', WORKLOAD, '--accept', '1.0.0', '--reason', 'first release');
    await cli('secret', 'put', 'default/key/db', '--value', 'shared-by-replicas');
    await cli('secret', 'rules', 'default/key/db', '--allow-workload', WORKLOAD);

    expect(await kbsGet(second, 'default/key/db')).toBe('shared-by-replicas\n');
    expect(await kbsGet(first, 'default/key/db')).toBe('shared-by-replicas\n');
    const sealing = async (server: ServerProcess) => JSON.parse(await kbsGet(server, 'sealing/key/current')) as { kid: string; key: string };
    const [one, two] = [await sealing(first), await sealing(second)];
    expect(two).toEqual(one);
  });

  it('refuse a replica without kek.key, or with another one, in one line and exit code 1', async () => {
    const refusal = async (name: string): Promise<string> => {
      // Without the simulated TEE, whose warning would precede the refusal.
      const outcome = await serve(name, []).then(
        () => 'started',
        (error: unknown) => (error as Error).message,
      );
      expect(outcome).toMatch(/^server exited \(1\) before listening:\n/);
      return outcome.slice(outcome.indexOf('\n') + 1).trim();
    };

    await cp(dataDir('first'), dataDir('lacking'), { recursive: true });
    await unlink(join(dataDir('lacking'), 'keys', 'default', 'kek.key'));
    const lacking = await refusal('lacking');
    expect(lacking).toMatch(/^covenant: this server has no \S+\/lacking\/keys\/default\/kek\.key, tenant default's is file:[0-9a-f]{16}; copy keys\/default\/ from the data directory the tenant was initialised in \(or its backup\) to \S+\/lacking\/keys\/default$/);
    expect(lacking.split('\n')).toHaveLength(1);

    await cp(dataDir('first'), dataDir('other'), { recursive: true });
    await writeFile(join(dataDir('other'), 'keys', 'default', 'kek.key'), randomBytes(32).toString('base64'));
    expect(await refusal('other')).toMatch(/^covenant: this server's kek\.key is file:[0-9a-f]{16}, tenant default's is file:[0-9a-f]{16}; copy keys\/default\/ from /);

    await cp(dataDir('first'), dataDir('resealed'), { recursive: true });
    await writeFile(join(dataDir('resealed'), 'keys', 'default', 'sealing.key'), randomBytes(32).toString('base64'));
    expect(await refusal('resealed')).toMatch(/^covenant: this server's sealing\.key is sealing:[0-9a-f]{16}, tenant default's is sealing:[0-9a-f]{16}; /);
  });
});
