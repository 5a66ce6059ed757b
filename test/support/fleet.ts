/**
 * Simulated fleets for scenario tests: sim TEE instances attesting through the real
 * HTTP routes (fastify's inject: the same bytes, no sockets), each with its own key.
 */
import type { FastifyInstance } from 'fastify';
import { SimAttester, type AttestationResult, type Transport } from '../../src/sim/attester.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity, type PlatformIdentity, type VendorRoot } from '../../src/sim/vendor.js';

/** fastify's inject as the attester's transport. */
export const injectTransport =
  (app: FastifyInstance): Transport =>
  async ({ method, url, headers, body }) => {
    const { pathname, search } = new URL(url);
    const res = await app.inject({ method, url: `${pathname}${search}`, headers, ...(body === undefined ? {} : { payload: Buffer.from(body) }) });
    return { status: res.statusCode, headers: { location: res.headers.location as string | undefined, 'retry-after': res.headers['retry-after'] as string | undefined }, body: res.body };
  };

export interface SimPki {
  readonly root: VendorRoot;
  readonly platform: PlatformIdentity;
}

/** A vendor root and one platform, valid from a day before `now`. */
export function simPki(now: Date): SimPki {
  const issued = new Date(now.getTime() - 86_400_000);
  const root = createVendorRoot({ now: issued });
  return { root, platform: issuePlatformIdentity(root, { now: issued, platformId: 'rack1.node1' }) };
}

export interface LaunchedRelease {
  readonly version: string;
  readonly measurement: string;
  readonly svn: number;
  readonly configDigests?: Readonly<Record<string, string>>;
}

/** One TEE instance running one release; remembers its latest result. */
export class SimInstance {
  readonly attester: SimAttester;
  last?: AttestationResult;

  constructor(
    readonly release: LaunchedRelease,
    options: { app: FastifyInstance; pki: SimPki; workload: string; sleep?: (seconds: number) => Promise<void>; maxRetries?: number },
  ) {
    const tee = new SimulatedTee(options.pki.platform, { measurement: release.measurement, svn: release.svn, debug: false, configDigests: release.configDigests ?? {} });
    this.attester = new SimAttester({
      server: 'http://covenant.test',
      workload: options.workload,
      tee,
      transport: injectTransport(options.app),
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
    });
  }

  async attest(): Promise<AttestationResult> {
    this.last = await this.attester.attest();
    return this.last;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, in order of start. */
export async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
