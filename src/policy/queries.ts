import type { Kysely } from 'kysely';
import { contentDigest } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
import { policyInForceAt } from '../core/policy.js';
import type { PolicyDocument, PolicyVersion, Release, ReleaseDocument, ReleaseStatus, Workload } from '../core/model.js';
import type { Database, PolicyVersionsTable, ReleasesTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';

type Db = Kysely<Database> | Tx;

const releaseFromRow = (row: ReleasesTable): Release => ({
  document: JSON.parse(row.doc) as ReleaseDocument,
  digest: row.digest,
  status: row.status as ReleaseStatus,
  createdAt: row.created_at,
});

/**
 * Rows already found to match their content address, by tenant, workload, id and number:
 * the document text that matched. A policy row is immutable once projected, so the hash
 * is paid once per row per process; a row whose text changed since misses and is checked
 * again. Bounded, like every cache of a long-running server.
 */
const verifiedPolicies = new LruCache<string, string>(4096);

/**
 * A policy version as stored, refused unless its id is the hash of its document and the
 * indexed columns say what the document says. Appraisals and commands read policies
 * only through here: a row edited in the store outside the ledger (another release
 * accepted, an old version renumbered to be current) is an integrity error, not policy.
 */
function policyFromRow(row: PolicyVersionsTable): PolicyVersion {
  const key = `${row.tenant}\n${row.workload}\n${row.id}\n${row.number}`;
  const document = JSON.parse(row.doc) as PolicyDocument;
  if (verifiedPolicies.get(key) === row.doc) return { id: row.id, document };
  if (contentDigest(document) !== row.id || document.tenant !== row.tenant || document.workload !== row.workload || document.number !== row.number) {
    throw new CovenantError('integrity', `policy version ${row.id} (number ${row.number}) of workload ${row.workload} does not match its content address: the state table was altered outside the ledger`);
  }
  verifiedPolicies.set(key, row.doc);
  return { id: row.id, document };
}

export async function findWorkload(db: Db, tenant: string, name: string): Promise<Workload | undefined> {
  const row = await db.selectFrom('workloads').selectAll().where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst();
  return row ? { tenant: row.tenant, name: row.name, createdAt: row.created_at, createdBy: row.created_by } : undefined;
}

export async function requireWorkload(db: Db, tenant: string, name: string): Promise<Workload> {
  const workload = await findWorkload(db, tenant, name);
  if (!workload) throw new CovenantError('not-found', `no workload named ${name}`);
  return workload;
}

export async function listWorkloads(db: Db, tenant: string): Promise<Workload[]> {
  const rows = await db.selectFrom('workloads').selectAll().where('tenant', '=', tenant).orderBy('name').execute();
  return rows.map((row) => ({ tenant: row.tenant, name: row.name, createdAt: row.created_at, createdBy: row.created_by }));
}

export async function listReleases(db: Db, tenant: string, workload: string): Promise<Release[]> {
  const rows = await db.selectFrom('releases').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).orderBy('created_at').orderBy('version').execute();
  return rows.map(releaseFromRow);
}

/** The workload's releases by version: what policy decisions and appraisals look them up by. */
export async function releasesByVersion(db: Db, tenant: string, workload: string): Promise<Map<string, Release>> {
  return new Map((await listReleases(db, tenant, workload)).map((release) => [release.document.version, release]));
}

export async function findRelease(db: Db, tenant: string, workload: string, version: string): Promise<Release | undefined> {
  const row = await db
    .selectFrom('releases')
    .selectAll()
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .where('version', '=', version)
    .executeTakeFirst();
  return row ? releaseFromRow(row) : undefined;
}

export async function currentPolicy(db: Db, tenant: string, workload: string): Promise<PolicyVersion | null> {
  const row = await db
    .selectFrom('policy_versions')
    .selectAll()
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? policyFromRow(row) : null;
}

/** A version by its id or an unambiguous prefix of at least 8 hex digits. */
export async function policyById(db: Db, tenant: string, workload: string, id: string): Promise<PolicyVersion> {
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new CovenantError('bad-request', `policy version must be 8 to 64 lowercase hex digits, got ${JSON.stringify(id)}`);
  const rows = await db
    .selectFrom('policy_versions')
    .selectAll()
    .where('tenant', '=', tenant)
    .where('workload', '=', workload)
    .where('id', 'like', `${id}%`)
    .limit(2)
    .execute();
  if (rows.length === 0) throw new CovenantError('not-found', `no policy version ${id} for workload ${workload}`);
  if (rows.length > 1) throw new CovenantError('bad-request', `policy version prefix ${id} is ambiguous`);
  return policyFromRow(rows[0]!);
}

export async function policyHistory(db: Db, tenant: string, workload: string): Promise<PolicyVersion[]> {
  const rows = await db.selectFrom('policy_versions').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).orderBy('number').execute();
  return rows.map(policyFromRow);
}

/** The version in force at `at` (the rule is core's; a workload's history is short). */
export async function policyAt(db: Db, tenant: string, workload: string, at: Date): Promise<PolicyVersion | null> {
  return policyInForceAt(await policyHistory(db, tenant, workload), at) ?? null;
}

/**
 * The releases an active rollout holds (its from and to): changing their acceptance by
 * hand would break the rollout's promise, so plain policy updates leave them alone.
 */
export async function rolloutLock(db: Db, tenant: string, workload: string): Promise<{ number: number; versions: string[] } | undefined> {
  const row = await db.selectFrom('rollouts').select(['number', 'doc']).where('tenant', '=', tenant).where('workload', '=', workload).where('status', '=', 'active').executeTakeFirst();
  if (row === undefined) return undefined;
  const doc = JSON.parse(row.doc) as { from: string[]; to: string };
  return { number: row.number, versions: [...doc.from, doc.to] };
}
