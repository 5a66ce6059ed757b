import { createPublicKey } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTenantKeys, loadTenantKeys, rotateTokenKey } from '../../src/app/tenant-keys.js';
import { asyncRejection } from '../support/errors.js';

const spkiOf = (key: Parameters<typeof createPublicKey>[0]) => createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');

describe('token key rotation', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('retires the current key with its time and writes a new one, 0600', async () => {
    const created = await createTenantKeys(dir, 'default', 'covenant/default', []);
    expect(created.retiredTokens).toEqual([]);
    const at = new Date('2026-11-22T12:00:00.750Z');
    const rotated = await rotateTokenKey(dir, 'default', at);
    expect(rotated.retired).toBe(join(dir, 'keys', 'default', 'retired', `token-${Math.floor(at.getTime() / 1000)}.pem`));
    expect((await stat(join(dir, 'keys', 'default', 'token.pem'))).mode & 0o777).toBe(0o600);

    const loaded = await loadTenantKeys(dir, 'default');
    expect(spkiOf(loaded.token)).toBe(spkiOf(rotated.token));
    expect(spkiOf(loaded.token)).not.toBe(spkiOf(created.token));
    expect(loaded.retiredTokens.map((r) => [spkiOf(r.key), r.retiredAt?.toISOString()])).toEqual([[spkiOf(created.token), '2026-11-22T12:00:00.000Z']]);

    // A second rotation later retires the second key too, oldest first.
    await rotateTokenKey(dir, 'default', new Date(at.getTime() + 60_000));
    const twice = await loadTenantKeys(dir, 'default');
    expect(twice.retiredTokens.map((r) => spkiOf(r.key))).toEqual([spkiOf(created.token), spkiOf(rotated.token)]);
  });

  it('refuses a second rotation in the same second and a tenant without keys, changing nothing', async () => {
    await createTenantKeys(dir, 'default', 'covenant/default', []);
    const at = new Date('2026-11-22T12:00:00Z');
    await rotateTokenKey(dir, 'default', at);
    const before = await loadTenantKeys(dir, 'default');
    expect((await asyncRejection(rotateTokenKey(dir, 'default', new Date(at.getTime() + 500)))).type).toBe('conflict');
    expect(spkiOf((await loadTenantKeys(dir, 'default')).token)).toBe(spkiOf(before.token));
    expect((await asyncRejection(rotateTokenKey(dir, 'other', at))).type).toBe('not-found');
    expect(await readdir(join(dir, 'keys'))).toEqual(['default']);
  });
});
