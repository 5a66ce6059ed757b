import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTenantKeys, loadKeyBrokerKeys } from '../../src/app/tenant-keys.js';
import { FileKms } from '../../src/keys/kms.js';
import { asyncRejection } from '../support/errors.js';

describe('the key broker’s key files', () => {
  it('are made on first load (0600, 32 bytes), then read back unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covenant-broker-keys-'));
    try {
      expect((await asyncRejection(loadKeyBrokerKeys(dir, 'default'))).type).toBe('not-found');
      await createTenantKeys(dir, 'default', 'covenant/default', []);
      const first = await loadKeyBrokerKeys(dir, 'default');
      for (const name of ['kek.key', 'sealing.key']) expect((await stat(join(dir, 'keys', 'default', name))).mode & 0o777).toBe(0o600);
      expect(first.kek).toHaveLength(32);
      expect(Buffer.from(first.kek).equals(Buffer.from(first.sealing))).toBe(false);
      const again = await loadKeyBrokerKeys(dir, 'default');
      expect(again).toEqual(first);
      expect(new FileKms(again.kek).keyId).toBe(new FileKms(first.kek).keyId);
      expect((await readFile(join(dir, 'keys', 'default', 'kek.key'), 'utf8')).trim()).toBe(Buffer.from(first.kek).toString('base64'));

      await writeFile(join(dir, 'keys', 'default', 'sealing.key'), 'c2hvcnQ=');
      expect((await asyncRejection(loadKeyBrokerKeys(dir, 'default'))).message).toMatch(/sealing\.key must hold 32 bytes/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
