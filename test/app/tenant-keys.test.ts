import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTenantKeys, loadTenantKeys } from '../../src/app/tenant-keys.js';

const spkiOf = (key: Parameters<typeof createPublicKey>[0]) => createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');

/**
 * Token keys rotated offline by versions before online rotation sit in
 * keys/<tenant>/retired/token-<unix seconds>.pem: a data directory that has them keeps
 * publishing them while their tokens may live.
 */
describe('token keys retired offline', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are loaded oldest first with the time of their file name; other files in retired/ are ignored', async () => {
    const created = await createTenantKeys(dir, 'default', 'covenant/default', []);
    expect(created.retiredTokens).toEqual([]);
    const retired = join(dir, 'keys', 'default', 'retired');
    await mkdir(retired, { mode: 0o700 });
    const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const [older, newer] = [pem(), pem()];
    await writeFile(join(retired, 'token-1795348800.pem'), newer.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    await writeFile(join(retired, 'token-1795348740.pem'), older.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    await writeFile(join(retired, 'notes.txt'), 'not a key');

    const loaded = await loadTenantKeys(dir, 'default');
    expect(spkiOf(loaded.token)).toBe(spkiOf(created.token));
    expect(loaded.retiredTokens.map((r) => [spkiOf(r.key), r.retiredAt?.toISOString()])).toEqual([
      [spkiOf(older), '2026-11-22T11:59:00.000Z'],
      [spkiOf(newer), '2026-11-22T12:00:00.000Z'],
    ]);
  });
});
