/**
 * Connection timeouts on a real socket (red-team issue 13): a client that never
 * finishes its headers or its body, or keeps an idle keep-alive connection, is
 * disconnected after the configured time instead of holding a socket for minutes.
 * The store plays no part here, so one backend suffices.
 */
import { generateKeyPairSync } from 'node:crypto';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildServer, DEFAULT_TIMEOUTS, timeoutOptions, type ServerTimeouts } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import { sqliteBackend, type BackendInstance } from '../store/backends.js';
import { createTestPlane } from '../support/control-plane.js';
import { expectRejected } from '../support/errors.js';

/** Short limits, so that the tests wait a fraction of a second for each. */
const SHORT: ServerTimeouts = { headers: 300, request: 600, keepAlive: 300, idle: 5_000 };
/** How long a test waits for the server to hang up: far above SHORT, far below Node's own defaults (minutes). */
const PATIENCE_MS = 15_000;

interface Hangup {
  /** Whether the server closed the connection within PATIENCE_MS. */
  readonly closed: boolean;
  /** Everything the server wrote before that. */
  readonly received: string;
}

/** Opens a connection, writes `chunks`, then waits for the server to close it. */
async function hangup(port: number, chunks: readonly string[]): Promise<Hangup> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (data: string) => {
    received += data;
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  for (const chunk of chunks) socket.write(chunk);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), PATIENCE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { closed, received };
}

describe('connection timeouts', () => {
  let instance: BackendInstance | undefined;
  let app: FastifyInstance | undefined;
  let port = 0;

  beforeEach(async () => {
    instance = await sqliteBackend.create();
    const plane = await createTestPlane(instance.store);
    const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    app = await buildServer({ cp: plane.cp, tenant: plane.tenant, metrics: new Metrics(), version: 'test', tokenKeys: [{ key: tokenKey }], timeouts: SHORT });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await app?.close();
    await instance?.destroy();
    app = undefined;
    instance = undefined;
  });

  it('closes a connection whose headers never end, with a 408', async () => {
    const result = await hangup(port, ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n']);
    expect(result.closed).toBe(true);
    expect(result.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection that sends nothing at all', async () => {
    expect((await hangup(port, [])).closed).toBe(true);
  });

  it('closes a connection whose body never arrives', async () => {
    const result = await hangup(port, ['POST /v1/tokens/check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"tok']);
    expect(result.closed).toBe(true);
  });

  it('closes an idle keep-alive connection after answering its request', async () => {
    const result = await hangup(port, ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n']);
    expect(result.closed).toBe(true);
    expect(result.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(result.received).toContain('{"status":"ok"}');
  });
});

describe('timeoutOptions', () => {
  it('defaults to 10 s for headers, 30 s per request and 5 s of keep-alive', () => {
    expect(DEFAULT_TIMEOUTS).toMatchObject({ headers: 10_000, request: 30_000, keepAlive: 5_000 });
    const options = timeoutOptions();
    expect(options).toMatchObject({ keepAliveTimeout: 5_000, requestTimeout: 30_000, http: { headersTimeout: 10_000, requestTimeout: 30_000 } });
  });

  it('refuses limits that Node would read as "never" or refuse itself', () => {
    expectRejected(() => timeoutOptions({ headers: 0 }), 'validation-failed', /timeouts\.headers/);
    expectRejected(() => timeoutOptions({ keepAlive: -1 }), 'validation-failed', /timeouts\.keepAlive/);
    expectRejected(() => timeoutOptions({ request: 1.5 }), 'validation-failed', /timeouts\.request/);
    expectRejected(() => timeoutOptions({ headers: 20_000, request: 10_000 }), 'validation-failed', /must not exceed/);
  });
});
