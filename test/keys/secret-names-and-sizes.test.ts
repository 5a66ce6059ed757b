/**
 * The broker's own repository is reserved in any case, and what members can read about a
 * stored value's versions does not include its plaintext length.
 */
import { describe, expect, it } from 'vitest';
import { parseWritableResource } from '../../src/keys/names.js';
import { expectProblem } from '../server/support.js';
import { describeEachBackend } from '../store/backends.js';
import { expectRejected } from '../support/errors.js';
import { appended, putSecret, useBrokerServer } from './support.js';

const SPELLINGS = ['Sealing/key/current', 'SEALING/key/legacy', 'sEaLiNg/other/tag'];

describe('the reserved repository', () => {
  it('is refused in any case', () => {
    for (const name of ['sealing/key/current', ...SPELLINGS]) expectRejected(() => parseWritableResource(name), 'validation-failed', /holds the derived sealing-key slots/);
    expect(parseWritableResource('sealings/key/current').repository).toBe('sealings');
  });
});

describeEachBackend('the secrets API', (backend) => {
  const fixture = useBrokerServer(backend);

  it('stores nothing under the reserved repository, whatever its case', async () => {
    const server = fixture();
    for (const name of SPELLINGS) {
      const { result, entries } = await appended(server.app, () => server.signed('POST', `/v1/secrets/${name}`, { value: Buffer.from('x').toString('base64') }));
      expectProblem(result, 400, 'validation-failed');
      expect(entries.filter((e) => e.type === 'secret.written')).toEqual([]);
    }
  });

  it('lists versions without their plaintext size', async () => {
    const server = fixture();
    await putSecret(server, 'default/key/db', 'a value of some length');
    const meta = await server.app.inject({ method: 'GET', url: '/v1/secrets/default/key/db' });
    expect(meta.statusCode, meta.body).toBe(200);
    const versions = (meta.json() as { versions: Record<string, unknown>[] }).versions;
    expect(versions).toHaveLength(1);
    expect(Object.keys(versions[0]!).sort()).toEqual(['createdAt', 'createdBy', 'digest', 'kek', 'version']);
  });
});
