import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { Database, SecretsTable, SecretVersionsTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import type { ReleaseRule } from './rules.js';
import { DEFAULT_MIGRATION_WINDOW_SECONDS } from './slots.js';

type Db = Kysely<Database> | Tx;

/**
 * A version as members see it. Its plaintext length is left out: a value's length tells
 * a reader something about it (a password's, a key's type), and listing it served no one.
 */
export interface SecretVersion {
  readonly version: number;
  readonly digest: string;
  readonly kek: string;
  readonly createdAt: string;
  readonly createdBy: string;
}

/** A resource as members see it: metadata and rules, never the value. */
export interface SecretMeta {
  readonly resource: string;
  readonly latestVersion: number;
  readonly rules: readonly ReleaseRule[];
  readonly rulesRevision: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
}

const metaFromRow = (row: SecretsTable): SecretMeta => ({
  resource: row.resource,
  latestVersion: row.latest_version,
  rules: JSON.parse(row.rules) as ReleaseRule[],
  rulesRevision: row.rules_revision,
  createdAt: row.created_at,
  createdBy: row.created_by,
  updatedAt: row.updated_at,
});

const versionFromRow = (row: SecretVersionsTable): SecretVersion => ({
  version: row.version,
  digest: row.digest,
  kek: row.kek,
  createdAt: row.created_at,
  createdBy: row.created_by,
});

export async function findSecret(db: Db, tenant: string, resource: string): Promise<SecretMeta | undefined> {
  const row = await db.selectFrom('secrets').selectAll().where('tenant', '=', tenant).where('resource', '=', resource).executeTakeFirst();
  return row === undefined ? undefined : metaFromRow(row);
}

export async function requireSecret(db: Db, tenant: string, resource: string): Promise<SecretMeta> {
  const secret = await findSecret(db, tenant, resource);
  if (secret === undefined) throw new CovenantError('not-found', `no secret named ${resource}`);
  return secret;
}

export async function listSecrets(db: Db, tenant: string): Promise<SecretMeta[]> {
  const rows = await db.selectFrom('secrets').selectAll().where('tenant', '=', tenant).orderBy('resource').execute();
  return rows.map(metaFromRow);
}

export async function secretVersions(db: Db, tenant: string, resource: string): Promise<SecretVersion[]> {
  const rows = await db.selectFrom('secret_versions').selectAll().where('tenant', '=', tenant).where('resource', '=', resource).orderBy('version').execute();
  return rows.map(versionFromRow);
}

export async function secretVersion(db: Db, tenant: string, resource: string, version: number): Promise<SecretVersion | undefined> {
  const row = await db
    .selectFrom('secret_versions')
    .selectAll()
    .where('tenant', '=', tenant)
    .where('resource', '=', resource)
    .where('version', '=', version)
    .executeTakeFirst();
  return row === undefined ? undefined : versionFromRow(row);
}

/** The sealed bytes of a version, kept beside the ledger by digest. */
export async function sealedBody(db: Db, tenant: string, digest: string): Promise<Uint8Array | undefined> {
  const row = await db.selectFrom('attachments').select('body').where('tenant', '=', tenant).where('digest', '=', digest).executeTakeFirst();
  return row === undefined ? undefined : new Uint8Array(row.body);
}

export interface MigrationWindow {
  readonly seconds: number;
  /** Absent while the default applies. */
  readonly setAt?: string;
  readonly setBy?: string;
}

export async function migrationWindow(db: Db, tenant: string, workload: string): Promise<MigrationWindow> {
  const row = await db.selectFrom('sealing_windows').selectAll().where('tenant', '=', tenant).where('workload', '=', workload).executeTakeFirst();
  return row === undefined ? { seconds: DEFAULT_MIGRATION_WINDOW_SECONDS } : { seconds: row.seconds, setAt: row.set_at, setBy: row.set_by };
}
