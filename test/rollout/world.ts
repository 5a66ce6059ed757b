/**
 * A workload, its releases and a simulated fleet behind a real server, for rollout
 * scenarios: what an operator and 1,000 TEE instances do, with the clock in hand.
 */
import { expect } from 'vitest';
import { RolloutDriver, type DriverReport } from '../../src/app/rollout-driver.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { auditLog } from '../../src/ledger/audit.js';
import { storeAuditSource } from '../../src/ledger/audit-source.js';
import type { AttestationResult } from '../../src/sim/attester.js';
import { inBatches, SimInstance, simPki, type LaunchedRelease, type SimPki } from '../support/fleet.js';
import type { TestServerOptions } from '../support/control-plane.js';
import { WORKLOAD, WORKLOAD_PATH, entries, sha256, type ServerFixture } from '../server/support.js';

export const T0 = new Date('2026-11-22T12:00:00.000Z');
export const PKI: SimPki = simPki(T0);
/** Tokens live a day: scenarios move the clock by hours and still check the first tokens. */
export const VERIFIERS: TestServerOptions = { verifiers: [{ plugin: simPlugin, trustAnchors: [PKI.root.certificate] }], tokenLifetimeSeconds: 86_400 };

export const A: LaunchedRelease = { version: '1.0.0', measurement: sha256('a'), svn: 1 };
export const B: LaunchedRelease = { version: '1.1.0', measurement: sha256('b'), svn: 2, configDigests: { roots: sha256('c') } };
/** B as a broken build would report it: the right code, the wrong trusted roots. */
export const BROKEN_B: LaunchedRelease = { ...B, configDigests: { roots: sha256('d') } };

export class World {
  readonly driver: RolloutDriver;

  constructor(readonly fixture: ServerFixture) {
    this.driver = new RolloutDriver(fixture.server.cp, fixture.server.tenant);
  }

  get app() {
    return this.fixture.server.app;
  }

  /** The workload with A and B registered and A accepted. */
  async seed(): Promise<void> {
    const { server } = this.fixture;
    const steps: [string, unknown][] = [
      ['/v1/workloads', { name: WORKLOAD }],
      [`${WORKLOAD_PATH}/releases`, { version: A.version, class: 'sim', measurements: [A.measurement], securityVersion: A.svn }],
      [`${WORKLOAD_PATH}/releases`, { version: B.version, class: 'sim', measurements: [B.measurement], securityVersion: B.svn, config: B.configDigests }],
      [`${WORKLOAD_PATH}/policy`, { accept: [A.version], reason: 'first release' }],
    ];
    for (const [url, body] of steps) {
      const res = await server.signed('POST', url, body);
      expect(res.statusCode, res.body).toBe(201);
    }
  }

  spawn(release: LaunchedRelease, count: number, options: { sleep?: (seconds: number) => Promise<void>; maxRetries?: number } = {}): SimInstance[] {
    return Array.from({ length: count }, () => new SimInstance(release, { app: this.app, pki: PKI, workload: WORKLOAD, ...options }));
  }

  /** Every instance attests once (64 at a time); returns the results in order. */
  attestAll(instances: readonly SimInstance[]): Promise<AttestationResult[]> {
    return inBatches(instances, 64, (instance) => instance.attest());
  }

  async post(path: string, body: unknown) {
    return this.fixture.server.signed('POST', `${WORKLOAD_PATH}${path}`, body);
  }

  async status(): Promise<{ rollout: { status: string; wave: number; evaluation?: { verdict: string } } | null; fleet: { release: string | null; status: string; instances: number }[] }> {
    const res = await this.app.inject({ method: 'GET', url: `${WORKLOAD_PATH}/rollout` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  async policy(): Promise<{ accepted: { version: string; until?: string }[]; securityVersionFloor: number; number: number }> {
    const res = await this.app.inject({ method: 'GET', url: `${WORKLOAD_PATH}/policy` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  async tokenStands(token: string): Promise<{ valid: boolean; reasons: string[] }> {
    const res = await this.app.inject({ method: 'POST', url: '/v1/tokens/check', payload: { token } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  tick(): Promise<DriverReport[]> {
    return this.driver.tick();
  }

  async ledger(type?: string): Promise<LedgerEntry[]> {
    const all: LedgerEntry[] = [];
    for (;;) {
      const page = await entries(this.app, `limit=1000${all.length === 0 ? '' : `&after=${all[all.length - 1]!.seq}`}${type === undefined ? '' : `&type=${type}`}`);
      if (page.length === 0) return all;
      all.push(...page);
    }
  }

  /** A checkpoint, then the whole log recomputed against the pinned key. */
  async auditVerifies(): Promise<void> {
    const { cp, tenant, logKey } = this.fixture.server;
    await cp.checkpointer.checkpoint(tenant);
    const report = await auditLog(storeAuditSource(cp.ledger, tenant), { tenant, vkey: logKey.vkey });
    expect(report.finding).toBeUndefined();
    expect(report.ok).toBe(true);
  }
}

export const statuses = (results: readonly AttestationResult[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const result of results) counts[result.appraisal.status] = (counts[result.appraisal.status] ?? 0) + 1;
  return counts;
};
