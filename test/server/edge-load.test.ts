/**
 * Load test of the HTTP edge on a real socket (red-team issue 13): twenty anonymous
 * 1 MiB bodies at once — the raw attestation media type on routes that do not take
 * it, and JSON with 95,000 unknown keys — are each answered with a small refusal, and
 * the server keeps answering /healthz within 100 ms meanwhile (the figure the issue
 * asks for, held by 95% of the probes; before the fix one such request blocked the
 * event loop for seconds).
 *
 * The attackers run in a child process, so that the time measured is the server's
 * and not the time this process spends sending 20 MiB. The store plays no part, so
 * one backend suffices.
 */
import { spawn } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ATTESTATION_MEDIA_TYPE } from '../../src/verifier/envelope.js';
import { sqliteBackend } from '../store/backends.js';
import { useTestServer } from './support.js';

const SMALL = 8 * 1024;
/** The figure, for 95% of the /healthz probes during the attack. */
const HEALTHZ_BUDGET_MS = 100;
/**
 * For every probe: a shared test machine may preempt this process or collect garbage
 * for longer than 100 ms now and then, but never for the seconds the reported attack
 * stalled the server per request.
 */
const HEALTHZ_STALL_MS = 1_000;

interface Attack {
  readonly path: string;
  readonly contentType: string;
  readonly body: 'raw' | 'keys';
}

interface Answer extends Attack {
  readonly status: number;
  readonly bytes: number;
}

const TARGETS = ['/v1/tokens/check', '/v1/proposals/x/votes', '/v1/workloads/x/gates/argo', '/v1/workloads/x/gates/flagger/rollout', '/v1/workloads'];
const ATTACKS: Attack[] = Array.from({ length: 20 }, (_, i) =>
  i % 4 === 3 ? { path: '/v1/tokens/check', contentType: 'application/json', body: 'keys' } : { path: TARGETS[i % TARGETS.length]!, contentType: ATTESTATION_MEDIA_TYPE, body: 'raw' },
);

/**
 * Sends every attack at once, each on a connection of its own, and prints the answers
 * as JSON. `raw` is one million "x" (the reported attack); `keys` is JSON with 95,000
 * unknown keys (just under 1 MiB). The server may answer, and stop reading, before a
 * body is all sent: the client's write errors are expected then.
 */
const ATTACKER = `
import { request } from 'node:http';
const [port, attacks] = [Number(process.argv[1]), JSON.parse(process.argv[2])];
const bodies = {
  raw: Buffer.alloc(1_000_000, 'x'),
  keys: Buffer.from('{' + Array.from({ length: 95_000 }, (_, i) => '"k' + i + '":1').join(',') + '}'),
};
const send = (attack) => new Promise((resolve, reject) => {
  const body = bodies[attack.body];
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: attack.path, agent: false, headers: { 'content-type': attack.contentType, 'content-length': String(body.length) } }, (res) => {
    let bytes = 0;
    res.on('data', (chunk) => { bytes += chunk.length; });
    res.on('end', () => resolve({ ...attack, status: res.statusCode, bytes }));
  });
  req.on('error', (error) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
  req.end(body);
});
process.stdout.write(JSON.stringify(await Promise.all(attacks.map(send))));
`;

function attack(port: number): Promise<Answer[]> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', ATTACKER, String(port), JSON.stringify(ATTACKS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Answer[]) : reject(new Error(`attacker exited ${code}: ${err}`))));
  });
}

/** GET /healthz on `agent`'s kept-alive connection; resolves with the status and the time it took. */
function healthz(port: number, agent: Agent): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    })
      .on('error', reject)
      .end();
  });
}

describe('HTTP edge under hostile load', () => {
  const fx = useTestServer(sqliteBackend);

  it('answers twenty 1 MiB attacks with small refusals while /healthz stays under 100 ms', async () => {
    const { app } = fx().server;
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Connects the probe and warms the route up before the attack starts.
      expect((await healthz(port, agent)).status).toBe(200);

      let attacking = true;
      const probes: { status: number; ms: number }[] = [];
      const probing = (async () => {
        while (attacking) {
          probes.push(await healthz(port, agent));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const answers = await attack(port).finally(() => {
        attacking = false;
      });
      await probing;

      expect(answers).toHaveLength(ATTACKS.length);
      for (const answer of answers) {
        // 415 before the body is parsed; JSON past the member limit, 413 before it is parsed.
        expect(answer.status, JSON.stringify(answer)).toBe(answer.body === 'raw' ? 415 : 413);
        expect(answer.bytes, JSON.stringify(answer)).toBeLessThan(SMALL);
      }
      expect(probes.length).toBeGreaterThan(0);
      expect(probes.every((probe) => probe.status === 200)).toBe(true);
      const latencies = probes.map((probe) => probe.ms).sort((a, b) => a - b);
      const context = `/healthz latencies (ms): ${probes.map((p) => Math.round(p.ms)).join(', ')}`;
      expect(latencies[Math.ceil(latencies.length * 0.95) - 1], context).toBeLessThan(HEALTHZ_BUDGET_MS);
      expect(latencies.at(-1), context).toBeLessThan(HEALTHZ_STALL_MS);
    } finally {
      agent.destroy();
    }
  });
});
