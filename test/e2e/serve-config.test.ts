/**
 * `covenant serve --config <file>` through the real binary: the server starts on the
 * port, data directory and tenant the file names; a flag wins over the file; a bad key
 * stops the start with exit 2.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, startServerProcess } from '../support/process.js';

/** A port nothing listens on now (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('serve --config (real binary)', () => {
  let root: string;
  const env = (): NodeJS.ProcessEnv => ({ COVENANT_HOME: join(root, 'home') });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-config-e2e-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('starts on the port, data directory and tenant of the file; a flag wins over it', async () => {
    const port = await freePort();
    const dataDir = join(root, 'data');
    const file = join(root, 'covenant.json');
    await writeFile(file, JSON.stringify({ 'data-dir': dataDir, listen: `127.0.0.1:${port}`, tenant: 'acme', 'log-level': 'warn' }));
    const server = await startServerProcess(['--config', file], env(), { exact: true });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${port}`);
      // Printed just after the line startServerProcess waits for.
      await vi.waitFor(() => expect(server.output()).toContain(`data directory ${dataDir} (store: ${join(dataDir, 'covenant.db')})`));
      expect(existsSync(join(dataDir, 'keys', 'acme', 'log.pem'))).toBe(true);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }

    const flagged = await startServerProcess(['--config', file, '--listen', '127.0.0.1:0', '--tenant', 'other'], env(), { exact: true });
    try {
      expect(flagged.url).not.toBe(`http://127.0.0.1:${port}`);
      expect(existsSync(join(dataDir, 'keys', 'other', 'log.pem'))).toBe(true);
    } finally {
      await flagged.stop();
    }
  });

  it('refuses an unknown key with exit 2 and one line naming it and the file, starting nothing', async () => {
    const file = join(root, 'typo.json');
    const dataDir = join(root, 'never');
    await writeFile(file, JSON.stringify({ 'data-dir': dataDir, port: 7800 }));
    const result = await runCli(['serve', '--config', file], env());
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`covenant: ${file}: unknown key "port"; the keys are serve's long option names: ${KEYS}\n`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses requests signed for another authority, and takes those signed for its own', async () => {
    const port = await freePort();
    const dataDir = join(root, 'authority-data');
    const elsewhere = await startServerProcess(['--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--authority', 'covenant.example'], env(), { exact: true });
    try {
      const refused = await runCli(['workload', 'create', 'payments/ingest', '--server', elsewhere.url], env());
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toMatch(/signature-invalid|authority/);
    } finally {
      await elsewhere.stop();
    }
    const own = await startServerProcess(['--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--authority', `127.0.0.1:${port}`], env(), { exact: true });
    try {
      const accepted = await runCli(['workload', 'create', 'payments/ingest', '--server', own.url], env());
      expect(accepted.code, accepted.stderr).toBe(0);
    } finally {
      await own.stop();
    }
  });
});

const KEYS =
  'data-dir, store, listen, tenant, checkpoint-interval, body-limit, signature-window, log-level, sim-dir, tpm-anchor, anchor, evidence-retention, inventory-retention, attest-rate, attest-burst, attest-in-flight, token-lifetime, rollout-interval, authority';
