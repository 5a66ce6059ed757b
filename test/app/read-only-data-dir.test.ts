/**
 * A data directory that became read-only while the server ran (a remount, a chmod):
 * stopping must not fail on the pid file it can no longer remove. The stale file only
 * words a later refusal, and the next server replaces it.
 */
import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/store/index.js';

describe('stopping on a read-only data directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-read-only-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  it('closes the store without an EACCES on covenant.pid, and the next start takes over', async () => {
    const store = await openStore({ dataDir: dir });
    const pidPath = join(dir, 'covenant.pid');
    // Root ignores file modes, so the refusal a read-only directory gives is simulated.
    const rmSync = fs.rmSync;
    vi.spyOn(fs, 'rmSync').mockImplementation((path, options) => {
      if (String(path) === pidPath) throw Object.assign(new Error(`EACCES: permission denied, unlink '${pidPath}'`), { code: 'EACCES' });
      rmSync(path, options);
    });
    await expect(store.close()).resolves.toBeUndefined();
    vi.restoreAllMocks();
    expect((await readFile(pidPath, 'utf8')).trim()).toBe(String(process.pid));

    const next = await openStore({ dataDir: dir });
    await next.close();
  });
});
