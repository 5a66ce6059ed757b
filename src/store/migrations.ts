/**
 * Schema migrations, kept in code so a single binary carries its schema and no
 * migration folder has to be found at runtime. Migrations are forward-only and
 * immutable once released: a schema change is a new entry, never an edit.
 *
 * Concurrency: kysely's Migrator takes a session-level `pg_advisory_lock` on PostgreSQL
 * (on one pooled connection, around one transaction holding every pending migration), so
 * replicas starting together against one database apply each migration exactly once;
 * the losers wait, then find nothing pending. Its bookkeeping tables are created before
 * that lock, but it tolerates losing that creation race. On SQLite the data-directory
 * lock already excludes every other process, and the driver's single connection
 * excludes everything else.
 */
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { StoreKind } from './store.js';

interface ColumnTypes {
  readonly bytes: 'blob' | 'bytea';
  readonly int: 'integer' | 'bigint';
  readonly text: 'text';
}

function columnTypes(kind: StoreKind): ColumnTypes {
  // SQLite INTEGER is already 64-bit; PostgreSQL needs bigint to hold the same range.
  return kind === 'sqlite'
    ? { bytes: 'blob', int: 'integer', text: 'text' }
    : { bytes: 'bytea', int: 'bigint', text: 'text' };
}

/**
 * SQLite STRICT tables reject values of the wrong type the way PostgreSQL does, so a
 * bug that stores a string in an integer column fails on both backends, not just one.
 */
function tableOptions(kind: StoreKind, options: { withoutRowid?: boolean } = {}) {
  if (kind !== 'sqlite') return sql``;
  return options.withoutRowid ? sql`without rowid, strict` : sql`strict`;
}

// `Kysely<any>`: a migration must keep working after `Database` moves on, so it must not
// be typed against today's schema.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

function foundation(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('tenants')
        .addColumn('id', t.text, (c) => c.notNull().primaryKey())
        .addColumn('origin', t.text, (c) => c.notNull())
        .addColumn('log_vkey', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('ledger_entries')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('seq', t.int, (c) => c.notNull())
        .addColumn('type', t.text, (c) => c.notNull())
        .addColumn('actor', t.text, (c) => c.notNull())
        .addColumn('workload', t.text)
        .addColumn('time', t.text, (c) => c.notNull())
        .addColumn('body', t.bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_entries_pkey', ['tenant', 'seq'])
        .modifyEnd(tableOptions(kind))
        .execute();
      // Only the filters that select a small part of a large log get an index: each one
      // costs every ledger append (actor and time queries scan in log order instead).
      for (const column of ['type', 'workload'] as const) {
        await db.schema
          .createIndex(`ledger_entries_tenant_${column}_idx`)
          .on('ledger_entries')
          .columns(['tenant', column])
          .execute();
      }

      // Small fixed-size rows looked up only by primary key: the case WITHOUT ROWID is for.
      await db.schema
        .createTable('ledger_nodes')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('level', t.int, (c) => c.notNull())
        .addColumn('idx', t.int, (c) => c.notNull())
        .addColumn('hash', t.bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_nodes_pkey', ['tenant', 'level', 'idx'])
        .modifyEnd(tableOptions(kind, { withoutRowid: true }))
        .execute();

      await db.schema
        .createTable('ledger_heads')
        .addColumn('tenant', t.text, (c) => c.notNull().primaryKey())
        .addColumn('size', t.int, (c) => c.notNull())
        .addColumn('root', t.bytes, (c) => c.notNull())
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('checkpoints')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('size', t.int, (c) => c.notNull())
        .addColumn('root', t.bytes, (c) => c.notNull())
        .addColumn('note', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('checkpoints_pkey', ['tenant', 'size'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('workloads')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('name', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('created_by', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('workloads_pkey', ['tenant', 'name'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('releases')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('workload', t.text, (c) => c.notNull())
        .addColumn('version', t.text, (c) => c.notNull())
        .addColumn('digest', t.text, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('doc', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('releases_pkey', ['tenant', 'workload', 'version'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('policy_versions')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('workload', t.text, (c) => c.notNull())
        .addColumn('id', t.text, (c) => c.notNull())
        .addColumn('number', t.int, (c) => c.notNull())
        .addColumn('predecessor', t.text)
        .addColumn('actor', t.text, (c) => c.notNull())
        .addColumn('reason', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('doc', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('policy_versions_pkey', ['tenant', 'id'])
        .addUniqueConstraint('policy_versions_tenant_workload_number_key', ['tenant', 'workload', 'number'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('members')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('name', t.text, (c) => c.notNull())
        .addColumn('public_key', t.text, (c) => c.notNull())
        .addColumn('alg', t.text, (c) => c.notNull())
        .addColumn('roles', t.text, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('members_pkey', ['tenant', 'name'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('request_nonces')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('key_id', t.text, (c) => c.notNull())
        .addColumn('nonce', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('request_nonces_pkey', ['tenant', 'key_id', 'nonce'])
        .modifyEnd(tableOptions(kind))
        .execute();
      // Expiry sweeps delete by time across all tenants.
      await db.schema.createIndex('request_nonces_expires_at_idx').on('request_nonces').column('expires_at').execute();
    },
  };
}

function attestation(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      // The fleet inventory: one row per instance key and workload, from verdict entries.
      await db.schema
        .createTable('instances')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('workload', t.text, (c) => c.notNull())
        .addColumn('instance', t.text, (c) => c.notNull())
        .addColumn('tee', t.text, (c) => c.notNull())
        .addColumn('release', t.text)
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('policy', t.text)
        .addColumn('evidence_digest', t.text, (c) => c.notNull())
        .addColumn('verdict_seq', t.int, (c) => c.notNull())
        .addColumn('first_seen', t.text, (c) => c.notNull())
        .addColumn('last_seen', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('instances_pkey', ['tenant', 'workload', 'instance'])
        .modifyEnd(tableOptions(kind))
        .execute();

      // Spent attestation sessions, kept until they expire so a nonce is used once.
      await db.schema
        .createTable('attestation_sessions')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('id', t.text, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('verdict_seq', t.int)
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('attestation_sessions_pkey', ['tenant', 'id'])
        .modifyEnd(tableOptions(kind))
        .execute();
      await db.schema.createIndex('attestation_sessions_expires_at_idx').on('attestation_sessions').column('expires_at').execute();

      // Content-addressed data ledger entries refer to by digest (raw evidence and its
      // verified claims), kept for a retention period, outside the Merkle tree.
      await db.schema
        .createTable('attachments')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('digest', t.text, (c) => c.notNull())
        .addColumn('media_type', t.text, (c) => c.notNull())
        .addColumn('body', t.bytes, (c) => c.notNull())
        .addColumn('meta', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('attachments_pkey', ['tenant', 'digest'])
        .modifyEnd(tableOptions(kind))
        .execute();
      await db.schema.createIndex('attachments_expires_at_idx').on('attachments').column('expires_at').execute();
    },
  };
}

function rollouts(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('rollouts')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('workload', t.text, (c) => c.notNull())
        .addColumn('number', t.int, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('doc', t.text, (c) => c.notNull())
        .addColumn('wave', t.int, (c) => c.notNull())
        .addColumn('wave_started_at', t.text, (c) => c.notNull())
        .addColumn('started_at', t.text, (c) => c.notNull())
        .addColumn('ended_at', t.text)
        .addColumn('outcome', t.text)
        .addPrimaryKeyConstraint('rollouts_pkey', ['tenant', 'workload', 'number'])
        .modifyEnd(tableOptions(kind))
        .execute();
      // One rollout in progress per workload, whatever replica or race tries a second.
      await db.schema
        .createIndex('rollouts_one_active_idx')
        .on('rollouts')
        .columns(['tenant', 'workload'])
        .unique()
        .where(sql.ref('status'), '=', 'active')
        .execute();

      await db.schema
        .createTable('health_signals')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('workload', t.text, (c) => c.notNull())
        .addColumn('source', t.text, (c) => c.notNull())
        .addColumn('healthy', t.int, (c) => c.notNull())
        .addColumn('detail', t.text, (c) => c.notNull())
        .addColumn('at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('health_signals_pkey', ['tenant', 'workload', 'source'])
        .modifyEnd(tableOptions(kind))
        .execute();
    },
  };
}

function ceremonies(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('constitution')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('action', t.text, (c) => c.notNull())
        .addColumn('rule', t.text, (c) => c.notNull())
        .addColumn('set_at', t.text, (c) => c.notNull())
        .addColumn('set_by', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('constitution_pkey', ['tenant', 'action'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('proposals')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('id', t.text, (c) => c.notNull())
        .addColumn('action', t.text, (c) => c.notNull())
        .addColumn('command', t.text, (c) => c.notNull())
        .addColumn('target', t.text, (c) => c.notNull())
        .addColumn('proposer', t.text, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull())
        .addColumn('doc', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('expires_at', t.text, (c) => c.notNull())
        .addColumn('closed_at', t.text)
        .addColumn('closed_reason', t.text)
        .addPrimaryKeyConstraint('proposals_pkey', ['tenant', 'id'])
        .modifyEnd(tableOptions(kind))
        .execute();
      // Every governed command looks for open proposals.
      await db.schema.createIndex('proposals_tenant_status_idx').on('proposals').columns(['tenant', 'status']).execute();

      await db.schema
        .createTable('proposal_votes')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('proposal', t.text, (c) => c.notNull())
        .addColumn('member', t.text, (c) => c.notNull())
        .addColumn('decision', t.text, (c) => c.notNull())
        .addColumn('signature', t.text)
        .addColumn('at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('proposal_votes_pkey', ['tenant', 'proposal', 'member'])
        .modifyEnd(tableOptions(kind))
        .execute();
    },
  };
}

function keyBroker(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('secrets')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('resource', t.text, (c) => c.notNull())
        .addColumn('latest_version', t.int, (c) => c.notNull())
        .addColumn('rules', t.text, (c) => c.notNull())
        .addColumn('rules_revision', t.int, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('created_by', t.text, (c) => c.notNull())
        .addColumn('updated_at', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('secrets_pkey', ['tenant', 'resource'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('secret_versions')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('resource', t.text, (c) => c.notNull())
        .addColumn('version', t.int, (c) => c.notNull())
        .addColumn('digest', t.text, (c) => c.notNull())
        .addColumn('size', t.int, (c) => c.notNull())
        .addColumn('kek', t.text, (c) => c.notNull())
        .addColumn('created_at', t.text, (c) => c.notNull())
        .addColumn('created_by', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('secret_versions_pkey', ['tenant', 'resource', 'version'])
        .modifyEnd(tableOptions(kind))
        .execute();

      await db.schema
        .createTable('sealing_windows')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('workload', t.text, (c) => c.notNull())
        .addColumn('seconds', t.int, (c) => c.notNull())
        .addColumn('set_at', t.text, (c) => c.notNull())
        .addColumn('set_by', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('sealing_windows_pkey', ['tenant', 'workload'])
        .modifyEnd(tableOptions(kind))
        .execute();
    },
  };
}

function collateral(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('collateral')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('digest', t.text, (c) => c.notNull())
        .addColumn('size', t.int, (c) => c.notNull())
        .addColumn('kind', t.text, (c) => c.notNull())
        .addColumn('classes', t.text, (c) => c.notNull())
        .addColumn('subject', t.text, (c) => c.notNull())
        .addColumn('not_before', t.text, (c) => c.notNull())
        .addColumn('not_after', t.text, (c) => c.notNull())
        .addColumn('imported_at', t.text, (c) => c.notNull())
        .addColumn('imported_by', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('collateral_pkey', ['tenant', 'digest'])
        .modifyEnd(tableOptions(kind))
        .execute();
    },
  };
}

function trustAnchors(kind: StoreKind): Migration {
  const t = columnTypes(kind);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('trust_anchors')
        .addColumn('tenant', t.text, (c) => c.notNull())
        .addColumn('tee', t.text, (c) => c.notNull())
        .addColumn('digest', t.text, (c) => c.notNull())
        .addColumn('subject', t.text, (c) => c.notNull())
        .addColumn('not_before', t.text, (c) => c.notNull())
        .addColumn('not_after', t.text, (c) => c.notNull())
        .addColumn('certificate', t.text, (c) => c.notNull())
        .addColumn('added_at', t.text, (c) => c.notNull())
        .addColumn('added_by', t.text, (c) => c.notNull())
        .addPrimaryKeyConstraint('trust_anchors_pkey', ['tenant', 'tee', 'digest'])
        .modifyEnd(tableOptions(kind))
        .execute();
    },
  };
}

/** Every migration in apply order (kysely sorts by name, hence the zero-padded prefix). */
export function migrations(kind: StoreKind): Record<string, Migration> {
  return {
    '0001_foundation': foundation(kind),
    '0002_attestation': attestation(kind),
    '0003_rollouts': rollouts(kind),
    '0004_key_broker': keyBroker(kind),
    '0005_ceremonies': ceremonies(kind),
    '0006_collateral': collateral(kind),
    '0007_trust_anchors': trustAnchors(kind),
  };
}

export const LATEST_MIGRATION = '0007_trust_anchors';

/**
 * Applies every pending migration and returns the names applied (empty when the schema
 * is current). Fails with `store-unavailable` when the store cannot be brought up to
 * date, including when it was migrated by a newer covenant than this one.
 */
export async function migrateToLatest(db: AnyDb, kind: StoreKind): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations(kind)) },
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new CovenantError(
      'store-unavailable',
      `store schema migration${failed === undefined ? '' : ` ${failed}`} failed: ${reason}`,
      { cause: error },
    );
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
