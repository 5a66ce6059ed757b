import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const fixture = path.join(here, 'fixtures', 'store-process.ts');

/** "At once": far below SQLite's busy timeout, which is what a waiting opener would show. */
const AT_ONCE_MS = 500;

const lockedMessage = (dataDir: string, pid: number) =>
  `data directory ${dataDir} is in use by another covenant process (pid ${pid})`;

interface ChildResult {
  ok?: boolean;
  ready?: boolean;
  pid?: number;
  ms: number;
  type?: string;
  message?: string;
}

function startChild(mode: 'hold' | 'try', dataDir: string): { child: ChildProcess; firstLine: Promise<ChildResult> } {
  // --import tsx resolves from cwd, hence the repository root.
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, dataDir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const firstLine = new Promise<ChildResult>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(JSON.parse(line) as ChildResult));
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) without output: ${stderr}`)));
  });
  return { child, firstLine };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function expectLocked(open: Promise<Store>, dataDir: string, pid: number): Promise<number> {
  const started = performance.now();
  const err = await open.then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  const ms = performance.now() - started;
  expect(err).toBeInstanceOf(CovenantError);
  expect((err as CovenantError).type).toBe('data-dir-locked');
  expect((err as CovenantError).message).toBe(lockedMessage(dataDir, pid));
  return ms;
}

describe('[sqlite] data directory lock', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];
  const stores: Store[] = [];

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'covenant-lock-'));
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await Promise.allSettled(stores.splice(0).map((s) => s.close()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second opener in the same process at once, and the holder keeps working', async () => {
    const holder = await openStore({ dataDir });
    stores.push(holder);

    const ms = await expectLocked(openStore({ dataDir }), dataDir, process.pid);
    expect(ms).toBeLessThan(AT_ONCE_MS);

    // The refused attempt must not have dropped the holder's lock (closing any descriptor
    // of a lock file drops the process's fcntl locks on it): another process is still refused.
    const { child, firstLine } = startChild('try', dataDir);
    children.push(child);
    const result = await firstLine;
    expect(result).toMatchObject({ ok: false, type: 'data-dir-locked', message: lockedMessage(dataDir, process.pid) });

    await holder.writeTransaction('t', (tx) =>
      tx.insertInto('ledger_heads').values({ tenant: 't', size: 1, root: Buffer.alloc(32) }).execute(),
    );
    await holder.close();

    const next = await openStore({ dataDir });
    stores.push(next);
    expect(await next.db.selectFrom('ledger_heads').select('size').execute()).toEqual([{ size: 1 }]);
  });

  it('refuses other processes while a child holds it, and frees it the moment the holder is SIGKILLed', async () => {
    const holder = startChild('hold', dataDir);
    children.push(holder.child);
    const ready = await holder.firstLine;
    expect(ready).toMatchObject({ ready: true, pid: holder.child.pid });
    const holderPid = holder.child.pid!;

    // This process…
    const ms = await expectLocked(openStore({ dataDir }), dataDir, holderPid);
    expect(ms).toBeLessThan(AT_ONCE_MS);

    // …and a third process.
    const other = startChild('try', dataDir);
    children.push(other.child);
    const refused = await other.firstLine;
    expect(refused).toMatchObject({ ok: false, type: 'data-dir-locked', message: lockedMessage(dataDir, holderPid) });
    expect(refused.ms).toBeLessThan(AT_ONCE_MS);

    holder.child.kill('SIGKILL');
    await exited(holder.child);
    expect(holder.child.signalCode).toBe('SIGKILL');

    const started = performance.now();
    const store = await openStore({ dataDir });
    stores.push(store);
    expect(performance.now() - started).toBeLessThan(AT_ONCE_MS * 4);

    const { rows } = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(store.db);
    expect(rows).toEqual([{ integrity_check: 'ok' }]);
    expect(await store.db.selectFrom('tenants').select('id').execute()).toEqual([{ id: 'held' }]);
    const entries = await store.db.selectFrom('ledger_entries').select(['seq', 'body']).orderBy('seq').execute();
    expect(entries).toHaveLength(100);
    expect(Buffer.from(entries[7]!.body)).toEqual(Buffer.from([0x00, 7, 0xff]));

    // The new holder's pid now names it in refusals.
    await expectLocked(openStore({ dataDir }), dataDir, process.pid);
  });

  it('a clean close releases the lock and removes the pid file', async () => {
    const store = await openStore({ dataDir });
    expect(fs.readFileSync(path.join(dataDir, 'covenant.pid'), 'utf8').trim()).toBe(String(process.pid));
    await store.close();
    expect(fs.existsSync(path.join(dataDir, 'covenant.pid'))).toBe(false);

    const { child, firstLine } = startChild('try', dataDir);
    children.push(child);
    expect(await firstLine).toMatchObject({ ok: true });
  });
});
