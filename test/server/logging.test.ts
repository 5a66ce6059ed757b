import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { buildServer, REDACTED_PATHS } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import { signRequest } from '../../src/ceremony/signed-request.js';
import { createTestPlane, INJECT_AUTHORITY } from '../support/control-plane.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';

describeEachBackend('request logs', (backend) => {
  const instance = useFreshInstance(backend);

  it('are JSON lines that never carry a signature, its nonce or the body', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const plane = await createTestPlane(instance().store);
    const app = await buildServer({
      cp: plane.cp,
      tenant: plane.tenant,
      metrics: new Metrics(),
      version: 'test',
      tokenKeys: [],
      // Log whole requests, headers included, to prove redaction rather than omission.
      logger: { level: 'info', stream: sink, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: (req: { headers: unknown; url: string }) => ({ url: req.url, headers: req.headers }) } },
    });
    const body = JSON.stringify({ name: 'logged/workload' });
    const headers = signRequest({ method: 'POST', authority: INJECT_AUTHORITY, path: '/v1/workloads', body, keyId: 'admin', alg: plane.admin.alg, privateKey: plane.admin.privateKey, created: new Date() });
    const response = await app.inject({ method: 'POST', url: '/v1/workloads', payload: body, headers: { ...headers, 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(201);
    await app.close();

    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    const text = lines.join('\n');
    expect(text).toContain('[redacted]');
    const signature = headers['signature']!.slice('sig1=:'.length, -1);
    const nonce = /nonce="([^"]+)"/.exec(headers['signature-input']!)![1]!;
    expect(text).not.toContain(signature);
    expect(text).not.toContain(nonce);
    expect(text).not.toContain('logged/workload');
  });
});
