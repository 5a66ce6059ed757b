import type { Clock } from '../core/clock.js';
import { CovenantError } from '../core/errors.js';
import { constitutionProjection } from '../ceremony/constitution.js';
import { trustBaseProjection } from '../ceremony/members.js';
import { proposalProjection, type CommandRegistry } from '../ceremony/proposals.js';
import { commandRegistry } from './commands.js';
import { Checkpointer, type LogKey } from '../ledger/checkpointer.js';
import { Committer, type Projector, type Unit } from '../ledger/committer.js';
import type { LedgerEntry } from '../ledger/entry.js';
import { LedgerReader } from '../ledger/ledger.js';
import { trustAnchorProjection } from '../anchors/commands.js';
import { collateralProjection } from '../collateral/commands.js';
import { keyBrokerProjection } from '../keys/commands.js';
import { policyProjection } from '../policy/commands.js';
import type { Store, Tx } from '../store/store.js';
import { rolloutProjection } from '../rollout/commands.js';
import { SpentSessions } from './spent-sessions.js';
import { inventoryProjection } from '../verifier/inventory.js';
import { verdictProjection } from '../verifier/verdict.js';

const handlers: Record<string, Projector> = { ...trustBaseProjection, ...constitutionProjection, ...proposalProjection, ...policyProjection, ...verdictProjection, ...inventoryProjection, ...rolloutProjection, ...keyBrokerProjection, ...collateralProjection, ...trustAnchorProjection };

/**
 * The projection of the whole ledger: every entry type that changes state has a
 * handler; the rest (refusals, benchmark entries) leave state alone.
 */
export const projectEntry: Projector = (tx: Tx, entry: LedgerEntry) => handlers[entry.type]?.(tx, entry);

export interface ControlPlaneOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly logKey: (tenant: string) => LogKey;
  readonly maxBatch?: number;
  readonly onBatch?: (units: number, entries: number) => void;
}

/** The composition root below the HTTP edge: store, spine, ledger read side. */
export class ControlPlane {
  readonly store: Store;
  readonly clock: Clock;
  readonly committer: Committer;
  readonly ledger: LedgerReader;
  readonly checkpointer: Checkpointer;
  readonly logKey: (tenant: string) => LogKey;
  /** What approved proposals run. */
  readonly commands: CommandRegistry = commandRegistry;

  constructor(options: ControlPlaneOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.logKey = options.logKey;
    // The spine's own projection also refuses a session spent before (see SpentSessions).
    this.committer = new Committer(options.store, new SpentSessions().guard(projectEntry), options.clock, {
      ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
    this.ledger = new LedgerReader(options.store.db);
    this.checkpointer = new Checkpointer(options.store, this.ledger, options.logKey, options.clock);
  }

  /** Runs a command through the spine and returns its result (or throws its rejection). */
  async execute<T>(tenant: string, unit: Unit<T>): Promise<T> {
    return (await this.committer.submit(tenant, unit)).result;
  }

  async tenantExists(tenant: string): Promise<boolean> {
    return (await this.store.db.selectFrom('tenants').select('id').where('id', '=', tenant).executeTakeFirst()) !== undefined;
  }

  async requireTenant(tenant: string): Promise<void> {
    if (!(await this.tenantExists(tenant))) throw new CovenantError('not-found', `no tenant named ${tenant}`);
  }
}
