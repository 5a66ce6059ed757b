import type { Kysely } from 'kysely';
import { DEFAULT_RULE, type ApprovalRule } from '../core/constitution.js';
import type { Proposal, ProposalDocument, StoredStatus, Vote } from '../core/proposal.js';
import type { Database, ProposalsTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import type { ActionClass } from './gate.js';

type Db = Kysely<Database> | Tx;

/** The rule in force for a class of change: the constitution's, or the development default. */
export async function ruleFor(db: Db, tenant: string, action: ActionClass): Promise<ApprovalRule> {
  const row = await db.selectFrom('constitution').select('rule').where('tenant', '=', tenant).where('action', '=', action).executeTakeFirst();
  return row === undefined ? DEFAULT_RULE : (JSON.parse(row.rule) as ApprovalRule);
}

/** The rules the constitution sets, by class (a class not in it has the default rule). */
export async function rulesInForce(db: Db, tenant: string): Promise<Map<string, ApprovalRule>> {
  const rows = await db.selectFrom('constitution').select(['action', 'rule']).where('tenant', '=', tenant).execute();
  return new Map(rows.map((row) => [row.action, JSON.parse(row.rule) as ApprovalRule]));
}

export async function constitutionRules(db: Db, tenant: string): Promise<Map<string, { rule: ApprovalRule; setAt: string; setBy: string }>> {
  const rows = await db.selectFrom('constitution').selectAll().where('tenant', '=', tenant).execute();
  return new Map(rows.map((row) => [row.action, { rule: JSON.parse(row.rule) as ApprovalRule, setAt: row.set_at, setBy: row.set_by }]));
}

const proposalFromRow = (row: ProposalsTable): Proposal => ({
  id: row.id,
  document: JSON.parse(row.doc) as ProposalDocument,
  status: row.status as StoredStatus,
  ...(row.closed_reason === null ? {} : { closedReason: row.closed_reason }),
});

export async function openProposals(db: Db, tenant: string): Promise<Proposal[]> {
  const rows = await db.selectFrom('proposals').selectAll().where('tenant', '=', tenant).where('status', '=', 'open').orderBy('created_at').execute();
  return rows.map(proposalFromRow);
}

export async function listProposals(db: Db, tenant: string, status?: StoredStatus): Promise<Proposal[]> {
  let query = db.selectFrom('proposals').selectAll().where('tenant', '=', tenant);
  if (status !== undefined) query = query.where('status', '=', status);
  return (await query.orderBy('created_at').orderBy('id').execute()).map(proposalFromRow);
}

/** A proposal by its id or an unambiguous prefix of at least 8 hex digits. */
export async function findProposal(db: Db, tenant: string, id: string): Promise<Proposal | undefined> {
  if (!/^[0-9a-f]{8,64}$/.test(id)) return undefined;
  const rows = await db.selectFrom('proposals').selectAll().where('tenant', '=', tenant).where('id', 'like', `${id}%`).limit(2).execute();
  return rows.length === 1 ? proposalFromRow(rows[0]!) : undefined;
}

export interface StoredVote extends Vote {
  readonly signature: string | null;
  readonly at: string;
}

export async function votesOf(db: Db, tenant: string, proposal: string): Promise<StoredVote[]> {
  const rows = await db.selectFrom('proposal_votes').selectAll().where('tenant', '=', tenant).where('proposal', '=', proposal).orderBy('at').orderBy('member').execute();
  return rows.map((row) => ({ member: row.member, decision: row.decision as Vote['decision'], signature: row.signature, at: row.at }));
}
