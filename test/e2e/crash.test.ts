import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, ServerProblem } from '../../src/cli/client.js';
import { httpAuditSource } from '../../src/cli/commands/audit.js';
import { readMemberKey, readProfile } from '../../src/cli/home.js';
import { auditLog } from '../../src/ledger/audit.js';
import { startServerProcess } from '../support/process.js';
import { createPostgresDatabase } from '../store/backends.js';

const APPENDS = 1000;

async function adminClient(home: string, url: string): Promise<{ client: Client; vkey: string }> {
  const profile = (await readProfile(home))!;
  const key = (await readMemberKey(home))!;
  return { client: new Client(url, { member: profile.member, key }), vkey: profile.logKey! };
}

/**
 * SIGKILL the server while 1,000 signed appends are in flight, restart it on the same
 * data, and check that the ledger verifies and holds every append that was acknowledged.
 */
async function crashAndRecover(storeArgs: string[]): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'covenant-crash-'));
  const env = { COVENANT_HOME: join(root, 'home') };
  const args = ['--data-dir', join(root, 'data'), '--checkpoint-interval', '1', ...storeArgs];
  const first = await startServerProcess(args, env);
  const { client } = await adminClient(env.COVENANT_HOME, first.url);

  const acknowledged: string[] = [];
  let killed = false;
  const appends = Array.from({ length: APPENDS }, async (_, i) => {
    const name = `crash/w${i}`;
    try {
      await client.post('/v1/workloads', { name });
      acknowledged.push(name);
      if (!killed && acknowledged.length >= APPENDS / 10) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    } catch {
      // Lost with the process: neither acknowledged nor required to be present.
    }
  });
  await Promise.all(appends);
  expect(await first.exited).toBe('SIGKILL');
  expect(acknowledged.length).toBeGreaterThanOrEqual(APPENDS / 10);
  expect(acknowledged.length).toBeLessThan(APPENDS);

  const second = await startServerProcess(args, env);
  try {
    const { client: after, vkey } = await adminClient(env.COVENANT_HOME, second.url);
    const report = await auditLog(httpAuditSource(after), { tenant: 'default', vkey });
    expect(report.finding).toBeUndefined();
    expect(report.ok).toBe(true);
    const { workloads } = await after.get<{ workloads: { name: string }[] }>('/v1/workloads');
    const present = new Set(workloads.map((w) => w.name));
    expect(acknowledged.filter((name) => !present.has(name))).toEqual([]);
    // The restarted server keeps appending onto the recovered tree.
    await after.post('/v1/workloads', { name: 'crash/after-restart' });
    await expect(after.post('/v1/workloads', { name: 'crash/after-restart' })).rejects.toBeInstanceOf(ServerProblem);
    expect((await auditLog(httpAuditSource(after), { tenant: 'default', vkey })).ok).toBe(true);
    console.log(`crash test (${storeArgs.length ? 'postgres' : 'sqlite'}): ${acknowledged.length} of ${APPENDS} appends acknowledged before SIGKILL, all present after restart; ${report.entries} entries verified`);
  } finally {
    await second.stop();
  }
}

describe('crash safety', () => {
  it('[sqlite] SIGKILL during 1,000 concurrent appends loses no acknowledged append', async () => {
    await crashAndRecover([]);
  });

  it('[postgres] SIGKILL during 1,000 concurrent appends loses no acknowledged append', async () => {
    const db = await createPostgresDatabase();
    try {
      await crashAndRecover(['--store', db.url]);
    } finally {
      await db.drop();
    }
  });
});
