import type { Kysely } from 'kysely';
import { liveWindowSeconds, type FleetShare, type HealthSignal, type Rollout, type RolloutDocument, type RolloutOutcome, type RolloutStatus, type WaveStats } from '../core/rollout.js';
import { currentPolicy } from '../policy/queries.js';
import { standingNow } from './compliance.js';
import type { Database, RolloutsTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';

type Db = Kysely<Database> | Tx;

const rolloutFromRow = (row: RolloutsTable): Rollout => ({
  document: JSON.parse(row.doc) as RolloutDocument,
  status: row.status as RolloutStatus,
  wave: row.wave,
  waveStartedAt: row.wave_started_at,
  ...(row.outcome === null ? {} : { outcome: JSON.parse(row.outcome) as RolloutOutcome }),
});

export async function activeRollout(db: Db, tenant: string, workload: string): Promise<Rollout | undefined> {
  const row = await db.selectFrom('rollouts').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).where('status', '=', 'active').executeTakeFirst();
  return row === undefined ? undefined : rolloutFromRow(row);
}

/** The newest rollout of the workload, in progress or ended. */
export async function latestRollout(db: Db, tenant: string, workload: string): Promise<Rollout | undefined> {
  const row = await db.selectFrom('rollouts').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).orderBy('number', 'desc').limit(1).executeTakeFirst();
  return row === undefined ? undefined : rolloutFromRow(row);
}

export async function rolloutHistory(db: Db, tenant: string, workload: string): Promise<Rollout[]> {
  const rows = await db.selectFrom('rollouts').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).orderBy('number').execute();
  return rows.map(rolloutFromRow);
}

export async function nextRolloutNumber(db: Db, tenant: string, workload: string): Promise<number> {
  const row = await db
    .selectFrom('rollouts')
    .select((eb) => eb.fn.max('number').as('n'))
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .executeTakeFirst();
  return Number(row?.n ?? 0) + 1;
}

/** Workloads with a rollout in progress: what the driver looks at. */
export async function workloadsWithActiveRollouts(db: Db, tenant: string): Promise<string[]> {
  const rows = await db.selectFrom('rollouts').select('workload').where('tenant', '=', tenant).where('status', '=', 'active').orderBy('workload').execute();
  return rows.map((row) => row.workload);
}

/** Instances of `release` whose latest verdict came at or after `since`, by that verdict. */
export async function waveStats(db: Db, tenant: string, workload: string, release: string, since: string): Promise<WaveStats> {
  const rows = await db
    .selectFrom('instances')
    .select(['status', (eb) => eb.fn.countAll().as('n')])
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .where('release', '=', release)
    .where('last_seen', '>=', since)
    .groupBy('status')
    .execute();
  const count = (status: string): number => Number(rows.find((row) => row.status === status)?.n ?? 0);
  return { affirming: count('affirming'), warning: count('warning'), contraindicated: count('contraindicated') };
}

export interface ReleaseCount {
  /** Null: the instance matched no release. */
  readonly release: string | null;
  readonly status: string;
  readonly instances: number;
}

/** The inventory by matched release and latest verdict, optionally only instances seen since a time. */
async function verdictCounts(db: Db, tenant: string, workload: string, since?: string): Promise<ReleaseCount[]> {
  let query = db
    .selectFrom('instances')
    .select(['release', 'status', (eb) => eb.fn.countAll().as('n')])
    .where('tenant', '=', tenant)
    .where('workload', '=', workload);
  if (since !== undefined) query = query.where('last_seen', '>=', since);
  const rows = await query.groupBy(['release', 'status']).orderBy('release').orderBy('status').execute();
  return rows.map((row) => ({ release: row.release, status: row.status, instances: Number(row.n) }));
}

/**
 * The fleet by matched release and standing at `now`: the latest verdict, except that
 * an instance accepted on a release the policy has since dropped (retired, revoked,
 * rolled back, past its deadline) is `no-longer-accepted` — its token no longer stands.
 */
export async function fleetCounts(db: Db, tenant: string, workload: string, now: Date, since?: string): Promise<ReleaseCount[]> {
  // One after the other: on SQLite a transaction has one connection.
  const counts = await verdictCounts(db, tenant, workload, since);
  return standingNow(counts, (await currentPolicy(db, tenant, workload))?.document ?? null, now);
}

/** The rollout's live fleet at `now` (see `FleetShare`), from the inventory. */
export async function liveFleet(db: Db, tenant: string, rollout: Rollout, now: Date): Promise<FleetShare> {
  const { workload, from, to } = rollout.document;
  const window = liveWindowSeconds(rollout.document);
  const rows = await db
    .selectFrom('instances')
    .select(['release', (eb) => eb.fn.countAll().as('n')])
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .where('release', 'in', [...from, to])
    .where('last_seen', '>=', new Date(now.getTime() - window * 1000).toISOString())
    .groupBy('release')
    .execute();
  const count = (release: string): number => Number(rows.find((row) => row.release === release)?.n ?? 0);
  return { onTarget: count(to), live: rows.reduce((sum, row) => sum + Number(row.n), 0), liveWindowSeconds: window };
}

export async function healthSignals(db: Db, tenant: string, workload: string): Promise<HealthSignal[]> {
  const rows = await db.selectFrom('health_signals').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).orderBy('source').execute();
  return rows.map((row) => ({ source: row.source, healthy: row.healthy === 1, detail: row.detail, at: row.at }));
}

export interface InstanceRow {
  readonly instance: string;
  readonly tee: string;
  readonly release: string | null;
  readonly status: string;
  readonly lastSeen: string;
}

/** Instances of a workload on the given releases (or on none, with `null`). */
export async function instancesOn(db: Db, tenant: string, workload: string, releases: readonly (string | null)[]): Promise<InstanceRow[]> {
  const named = releases.filter((r): r is string => r !== null);
  if (named.length === 0 && !releases.includes(null)) return [];
  const rows = await db
    .selectFrom('instances')
    .select(['instance', 'tee', 'release', 'status', 'last_seen'])
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .where((eb) => {
      const terms = [];
      if (named.length > 0) terms.push(eb('release', 'in', named));
      if (releases.includes(null)) terms.push(eb('release', 'is', null));
      return eb.or(terms);
    })
    .orderBy('release')
    .orderBy('last_seen')
    .execute();
  return rows.map((row) => ({ instance: row.instance, tee: row.tee, release: row.release, status: row.status, lastSeen: row.last_seen }));
}
