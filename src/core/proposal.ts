/**
 * Proposals: a change of trust that one signature does not settle waits for the
 * approvals its class's rule asks for. A proposal is immutable and content-addressed;
 * approvals are members' signatures over its content (never a re-upload of the
 * request), so an approver — online or air-gapped — signs exactly what will run.
 *
 * Pure: the store supplies the proposal and its approvals, callers the time.
 */
import { canonicalJson, contentDigest } from './canonical.js';
import { countsFor, quorums, tally, type ApprovalRule, type Approver, type Tally } from './constitution.js';
import { CovenantError } from './errors.js';
import type { Member } from './model.js';

export interface ProposalDocument {
  readonly tenant: string;
  /** The action class whose rule governs it. */
  readonly action: string;
  /** The command that runs once approved, e.g. `policy.update`, and its arguments. */
  readonly command: string;
  readonly args: unknown;
  /** What it changes: at most one open proposal per target. */
  readonly target: string;
  readonly proposer: string;
  /** The rule in force when it was made: approvals are counted against this one. */
  readonly rule: ApprovalRule;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** Random: two identical requests are two proposals, and a signature fits only one. */
  readonly nonce: string;
}

export const PROPOSAL_STATUSES = ['open', 'executed', 'failed', 'rejected', 'invalidated'] as const;
export type StoredStatus = (typeof PROPOSAL_STATUSES)[number];
/** `expired` is an open proposal past its expiry: derived, never stored. */
export type ProposalStatus = StoredStatus | 'expired';

export interface Proposal {
  readonly id: string;
  readonly document: ProposalDocument;
  readonly status: StoredStatus;
  /** Why it was closed (failed, rejected, invalidated). */
  readonly closedReason?: string;
}

export type Decision = 'approve' | 'reject';

export interface Vote {
  readonly member: string;
  readonly decision: Decision;
}

export function proposalId(document: ProposalDocument): string {
  return contentDigest(document);
}

export function statusAt(proposal: Proposal, now: Date): ProposalStatus {
  return proposal.status === 'open' && Date.parse(proposal.document.expiresAt) <= now.getTime() ? 'expired' : proposal.status;
}

/**
 * The exact bytes a member signs to approve or reject: canonical JSON naming the
 * purpose, the decision and the whole proposal (its id and content). An air-gapped
 * signer reads what it signs; the id binds the content; the purpose keeps these bytes
 * from meaning anything else anywhere else.
 */
export function decisionMessage(proposal: { readonly id: string; readonly document: ProposalDocument }, decision: Decision): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ purpose: 'covenant/proposal-decision/v1', decision, proposal: { id: proposal.id, ...proposal.document } }));
}

/** Parses exported decision bytes back, checking that the content is the id's. */
export function readDecisionMessage(bytes: Uint8Array): { readonly id: string; readonly document: ProposalDocument; readonly decision: Decision } {
  let parsed: { purpose?: unknown; decision?: unknown; proposal?: { id?: unknown } & Record<string, unknown> };
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as typeof parsed;
  } catch {
    throw new CovenantError('bad-request', 'the file is not an exported proposal decision (not UTF-8 JSON)');
  }
  const { purpose, decision, proposal } = parsed ?? {};
  if (purpose !== 'covenant/proposal-decision/v1' || (decision !== 'approve' && decision !== 'reject') || typeof proposal !== 'object' || proposal === null || typeof proposal.id !== 'string') {
    throw new CovenantError('bad-request', 'the file is not an exported proposal decision (covenant/proposal-decision/v1)');
  }
  const { id, ...document } = proposal;
  if (proposalId(document as unknown as ProposalDocument) !== id) throw new CovenantError('bad-request', `the exported content does not hash to proposal ${id}: it was altered`);
  if (canonicalJson(JSON.parse(new TextDecoder().decode(bytes))) !== new TextDecoder().decode(bytes)) {
    throw new CovenantError('bad-request', 'the exported bytes are not canonical: sign the file exactly as exported');
  }
  return { id, document: document as unknown as ProposalDocument, decision };
}

export interface VoteInput {
  readonly proposal: Proposal;
  readonly votes: readonly Vote[];
  /** The voter as the store knows them now; undefined when no such member. */
  readonly member: Member | undefined;
  readonly decision: Decision;
  readonly now: Date;
  /** Roles of the members who approved so far, by name (for the tally). */
  readonly approvers: readonly Approver[];
  /** Likewise of those who rejected so far (for the rejection quorum). */
  readonly rejecters: readonly Approver[];
}

export type VoteOutcome =
  | { readonly kind: 'counted'; readonly tally: Tally }
  | { readonly kind: 'execute'; readonly tally: Tally }
  | { readonly kind: 'rejected'; readonly reason: string };

/**
 * Decides one member's vote. Refusals are `conflict` (the proposal cannot take votes
 * any more, or this member already voted) or `forbidden` (this member may not cast this
 * vote); neither is ledgered (the vote route is open to anyone).
 *
 * A rejection closes the proposal when it is a withdrawal by the proposer or a veto; a
 * rejection by a member whose approval would have counted is counted, and closes it once
 * such rejections would have satisfied the rule: the quorum that could make a change can
 * always refuse it, so nobody can squat a target with a proposal nobody will approve.
 */
export function decideVote(input: VoteInput): VoteOutcome {
  const { proposal, member, decision, now } = input;
  const { rule, proposer: proposerName, action } = proposal.document;
  const status = statusAt(proposal, now);
  if (status === 'expired') throw new CovenantError('conflict', `proposal ${proposal.id.slice(0, 16)} expired at ${proposal.document.expiresAt}; it can no longer execute`);
  if (status !== 'open') throw new CovenantError('conflict', `proposal ${proposal.id.slice(0, 16)} is ${status}${proposal.closedReason ? `: ${proposal.closedReason}` : ''}`);
  if (member === undefined || member.status !== 'active') throw new CovenantError('forbidden', 'the signing key belongs to no active member');
  const proposer = member.name === proposerName;
  const voter: Approver = { name: member.name, roles: member.roles };
  const counts = quorums(rule).some((quorum) => countsFor(quorum, proposerName, voter));
  // A proposer whose request counted as an approval may still withdraw it.
  const withdrawal = proposer && decision === 'reject';
  if (!withdrawal && input.votes.some((vote) => vote.member === member.name)) throw new CovenantError('conflict', `${member.name} has already decided on proposal ${proposal.id.slice(0, 16)}`);

  if (decision === 'reject') {
    const veto = rule.vetoRoles.find((role) => member.roles.includes(role));
    if (proposer) return { kind: 'rejected', reason: `withdrawn by its proposer ${member.name}` };
    if (veto !== undefined) return { kind: 'rejected', reason: `vetoed by ${member.name} (${veto})` };
    if (!counts) {
      throw new CovenantError('forbidden', `${member.name} holds no veto role (${rule.vetoRoles.join(', ') || 'the rule names none'}) and could not approve proposal ${proposal.id.slice(0, 16)}, so cannot reject it`);
    }
    const against = tally(rule, proposerName, [...input.rejecters, voter]);
    if (against.satisfied) return { kind: 'rejected', reason: `rejected by ${against.counted.join(', ')}, as many as its rule needs to approve it` };
    return { kind: 'counted', tally: tally(rule, proposerName, input.approvers) };
  }
  if (!counts) {
    if (proposer && quorums(rule).some((quorum) => member.roles.includes(quorum.role))) {
      throw new CovenantError('forbidden', `the rule for ${action} changes does not count the proposer: ${member.name} cannot approve their own proposal`);
    }
    const roles = quorums(rule).map((quorum) => quorum.role);
    throw new CovenantError('forbidden', `member ${member.name} lacks the ${roles.join(' or ')} role required to approve ${action} changes`);
  }
  const counted = tally(rule, proposerName, [...input.approvers, voter]);
  return counted.satisfied ? { kind: 'execute', tally: counted } : { kind: 'counted', tally: counted };
}

/** Open proposals that block a new one on `target` (expired ones block nothing). */
export function blocking(open: readonly Proposal[], target: string, now: Date): Proposal | undefined {
  return open.find((p) => p.document.target === target && statusAt(p, now) === 'open');
}
