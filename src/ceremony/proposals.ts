import { canonicalJson } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import { approvalsNeeded, type Approver } from '../core/constitution.js';
import { decideVote, decisionMessage, type Decision as VoteDecision, type ProposalStatus } from '../core/proposal.js';
import type { Decision, Projector, Unit } from '../ledger/committer.js';
import type { NewEntry } from '../ledger/entry.js';
import type { RegisteredCommand } from './command.js';
import { decisionSignatureValid, decodeSignature } from './decision-signature.js';
import {
  CHANGE_AUTHORIZED,
  PROPOSAL_CREATED,
  PROPOSAL_FAILED,
  PROPOSAL_INVALIDATED,
  PROPOSAL_REJECTED,
  PROPOSAL_VOTED,
  type ChangeAuthorized,
  type ProposalClosed,
  type ProposalCreated,
  type ProposalVoted,
} from './events.js';
import { findMember, memberActor } from './members.js';
import { findProposal, votesOf } from './queries.js';

/** Every command a proposal may name, by name: composed by the application. */
export type CommandRegistry = ReadonlyMap<string, RegisteredCommand>;

export interface VoteArgs {
  /** The proposal id (or an unambiguous prefix). */
  readonly id: string;
  readonly member: string;
  readonly decision: VoteDecision;
  /** base64 signature over the proposal's decision message. */
  readonly signature: string;
}

export interface VoteResult {
  readonly id: string;
  readonly status: ProposalStatus;
  readonly approvals: readonly string[];
  readonly needed: number;
  /** Why it closed (rejected, failed). */
  readonly reason?: string;
  /** What the command returned, once executed. */
  readonly result?: unknown;
}

/**
 * One member's signed decision on a proposal. The signature over the proposal's content
 * is the credential — no request signature is needed, so a decision signed offline can
 * be carried in by anyone. Refused votes change nothing and are not recorded: the route
 * is open to anyone, and a forged or replayed vote (a member's genuine signature, carried
 * in again) must not be able to write to the ledger. The approval that reaches the quorum
 * runs the command, in the same transaction, under the rule in force when the proposal
 * was made; if the command is refused at that point, the proposal fails and says why.
 */
export function voteOnProposal(commands: CommandRegistry, args: VoteArgs): Unit<VoteResult> {
  return async (tx, ctx) => {
    const proposal = await findProposal(tx, ctx.tenant, args.id);
    if (proposal === undefined) throw new CovenantError('not-found', `no proposal ${args.id}`);
    const { id, document } = proposal;
    const actor = memberActor(args.member);

    const member = await findMember(tx, ctx.tenant, args.member);
    const signature = decodeSignature(args.signature);
    if (member === undefined || !decisionSignatureValid(member, decisionMessage(proposal, args.decision), signature)) {
      throw new CovenantError('signature-invalid', `the signature is not ${args.member}'s over this proposal's ${args.decision} message`);
    }
    const votes = await votesOf(tx, ctx.tenant, id);
    const approvers: Approver[] = [];
    const rejecters: Approver[] = [];
    // One after the other: on SQLite a transaction has one connection.
    for (const vote of votes) {
      const voter = await findMember(tx, ctx.tenant, vote.member);
      if (voter !== undefined) (vote.decision === 'approve' ? approvers : rejecters).push({ name: voter.name, roles: voter.roles });
    }
    const outcome = decideVote({ proposal, votes, member, decision: args.decision, now: ctx.now, approvers, rejecters });

    const voted: ProposalVoted = { id, member: member.name, decision: args.decision, signature: Buffer.from(signature).toString('base64') };
    const entries: NewEntry[] = [{ type: PROPOSAL_VOTED, actor, payload: voted }];
    const needed = approvalsNeeded(document.rule);
    if (outcome.kind === 'counted') return { entries, result: { id, status: 'open', approvals: outcome.tally.counted, needed } };
    if (outcome.kind === 'rejected') {
      const closed: ProposalClosed = { id, reason: outcome.reason };
      entries.push({ type: PROPOSAL_REJECTED, actor, payload: closed });
      return { entries, result: { id, status: 'rejected', approvals: approvers.map((a) => a.name), needed, reason: outcome.reason } };
    }

    const approvals = outcome.tally.counted;
    const command = commands.get(document.command);
    let decision: Decision<unknown>;
    try {
      if (command === undefined) throw new CovenantError('bad-request', `command ${document.command} is not known to this server`);
      decision = await command.execute(tx, ctx, { proposer: document.proposer, approvers: approvals, proposal: id, rule: document.rule }, document.args);
    } catch (error) {
      if (!(error instanceof CovenantError)) throw error;
      decision = { entries: [], rejection: error };
    }
    if ('rejection' in decision) {
      const failed: ProposalClosed = { id, reason: decision.rejection.message };
      entries.push(...decision.entries, { type: PROPOSAL_FAILED, actor: 'system:ceremony', payload: failed });
      return { entries, result: { id, status: 'failed', approvals, needed, reason: decision.rejection.message } };
    }
    entries.push(...decision.entries);
    // The command's attachments (a sealed secret value) are stored with its entries.
    const attachments = decision.attachments ?? [];
    return { entries, attachments, result: { id, status: 'executed', approvals, needed, result: decision.result } };
  };
}

function close(status: 'rejected' | 'failed' | 'invalidated'): Projector {
  return async (tx, entry) => {
    const { id, reason } = entry.payload as ProposalClosed;
    await tx.updateTable('proposals').set({ status, closed_at: entry.time, closed_reason: reason }).where('tenant', '=', entry.tenant).where('id', '=', id).execute();
  };
}

export const proposalProjection: Record<string, Projector> = {
  [PROPOSAL_CREATED]: async (tx, entry) => {
    const { id, document } = entry.payload as ProposalCreated;
    await tx
      .insertInto('proposals')
      .values({
        tenant: entry.tenant,
        id,
        action: document.action,
        command: document.command,
        target: document.target,
        proposer: document.proposer,
        status: 'open',
        doc: canonicalJson(document),
        created_at: document.createdAt,
        expires_at: document.expiresAt,
        closed_at: null,
        closed_reason: null,
      })
      .execute();
  },
  [PROPOSAL_VOTED]: async (tx, entry) => {
    const vote = entry.payload as ProposalVoted;
    const row = { decision: vote.decision, signature: vote.signature, at: entry.time };
    // A proposer's withdrawal replaces the approval their request counted as.
    await tx
      .insertInto('proposal_votes')
      .values({ tenant: entry.tenant, proposal: vote.id, member: vote.member, ...row })
      .onConflict((oc) => oc.columns(['tenant', 'proposal', 'member']).doUpdateSet(row))
      .execute();
  },
  [CHANGE_AUTHORIZED]: (tx, entry) => {
    const { proposal } = entry.payload as ChangeAuthorized;
    // Most changes need one signature and no proposal: nothing to project, no await.
    if (proposal === null) return undefined;
    return tx
      .updateTable('proposals')
      .set({ status: 'executed', closed_at: entry.time, closed_reason: null })
      .where('tenant', '=', entry.tenant)
      .where('id', '=', proposal)
      .execute()
      .then(() => undefined);
  },
  [PROPOSAL_REJECTED]: close('rejected'),
  [PROPOSAL_FAILED]: close('failed'),
  [PROPOSAL_INVALIDATED]: close('invalidated'),
};
