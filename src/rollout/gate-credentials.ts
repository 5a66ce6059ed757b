import { randomBytes } from 'node:crypto';
import { CovenantError } from '../core/errors.js';
import { findMember, memberActor } from '../ceremony/members.js';
import type { Unit } from '../ledger/committer.js';
import type { LedgerEntry } from '../ledger/entry.js';
import { currentPolicy, requireWorkload } from '../policy/queries.js';
import type { Tx } from '../store/store.js';
import { gateNow } from './commands.js';
import { GATE_CREDENTIAL_PREFIX, gateCredentialDigest, type GateSituation } from './integrations.js';
import { latestRollout } from './queries.js';

type Db = Parameters<typeof latestRollout>[0];

/**
 * Issuing and finding gate credentials (integrations.ts says what they are). The
 * ledger keeps who issued one for which rollout and its digest — never the credential —
 * and the newest issue for a rollout is the one that holds.
 */
export const GATE_CREDENTIAL_ISSUED = 'rollout.gate-credential-issued';

export interface GateCredentialIssued {
  readonly rollout: number;
  /** SHA-256 of the credential, hex. */
  readonly digest: string;
}

/** A fresh credential (256 random bits), for the caller to show once. */
export const newGateCredential = (): string => `${GATE_CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`;

/** A member issues the credential of the workload's latest rollout, superseding any earlier one. */
export function issueGateCredential(signer: string, workload: string, credential: string): Unit<GateCredentialIssued> {
  return async (tx: Tx, ctx) => {
    await requireWorkload(tx, ctx.tenant, workload);
    if ((await findMember(tx, ctx.tenant, signer)) === undefined) throw new CovenantError('forbidden', 'the signing key belongs to no member');
    const rollout = await latestRollout(tx, ctx.tenant, workload);
    if (rollout === undefined) throw new CovenantError('not-found', `workload ${workload} has no rollout: start one first, then issue its gate credential`);
    const payload: GateCredentialIssued = { rollout: rollout.document.number, digest: gateCredentialDigest(credential) };
    return { entries: [{ type: GATE_CREDENTIAL_ISSUED, actor: memberActor(signer), workload, payload }], result: payload };
  };
}

/** The newest credential issued for the workload (one indexed read: type and workload). */
export async function latestGateCredential(db: Db, tenant: string, workload: string): Promise<GateCredentialIssued | undefined> {
  const row = await db
    .selectFrom('ledger_entries')
    .select('body')
    .where('tenant', '=', tenant)
    .where('type', '=', GATE_CREDENTIAL_ISSUED)
    .where('workload', '=', workload)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : (JSON.parse(Buffer.from(row.body).toString('utf8')) as LedgerEntry<GateCredentialIssued>).payload;
}

/** What a gate answers from, read without writing. */
export async function gateSituation(db: Db, tenant: string, workload: string, now: Date): Promise<GateSituation> {
  const rollout = await latestRollout(db, tenant, workload);
  const gate = rollout?.status === 'active' ? await gateNow(db, tenant, rollout, now) : undefined;
  const policy = await currentPolicy(db, tenant, workload);
  return { rollout, gate, policy: policy?.document ?? null };
}
