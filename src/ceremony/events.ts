import type { ApprovalRule } from '../core/constitution.js';
import type { MemberAlgorithm } from '../core/model.js';
import type { ProposalDocument } from '../core/proposal.js';
import type { ActionClass } from './gate.js';

/** Ledger entry types of the trust base, and their payloads. */
export interface TenantCreated {
  readonly origin: string;
  readonly logVkey: string;
}

export interface MemberAdded {
  readonly name: string;
  readonly publicKey: string;
  readonly alg: MemberAlgorithm;
  readonly roles: readonly string[];
}

export interface MemberRemoved {
  readonly name: string;
}

/** A signed request by a known key that the gate refused: ledgered, like every refusal. */
export interface AuthorizationDenied {
  readonly action: ActionClass;
  readonly command: string;
  readonly reason: string;
}

export const TENANT_CREATED = 'tenant.created';
export const MEMBER_ADDED = 'member.added';
export const MEMBER_REMOVED = 'member.removed';
export const AUTHORIZATION_DENIED = 'authorization.denied';

export const CONSTITUTION_RULE_SET = 'constitution.rule-set';
export const CHANGE_AUTHORIZED = 'change.authorized';
export const PROPOSAL_CREATED = 'proposal.created';
export const PROPOSAL_VOTED = 'proposal.voted';
export const PROPOSAL_REJECTED = 'proposal.rejected';
export const PROPOSAL_FAILED = 'proposal.failed';
export const PROPOSAL_INVALIDATED = 'proposal.invalidated';

export interface ConstitutionRuleSet {
  readonly action: ActionClass;
  readonly rule: ApprovalRule;
}

/**
 * Who authorised a change, and under which rule: the entry before every change a
 * member's command makes. The `produced` entries that follow it are the change.
 */
export interface ChangeAuthorized {
  readonly command: string;
  readonly action: ActionClass;
  readonly target: string;
  readonly rule: ApprovalRule;
  readonly proposer: string;
  /** Whose signatures made it happen (the proposer's request counts where the rule says so). */
  readonly approvers: readonly string[];
  /** The proposal it executes; null when one signature sufficed. */
  readonly proposal: string | null;
  readonly produced: number;
}

export interface ProposalCreated {
  readonly id: string;
  readonly document: ProposalDocument;
}

/** A member's signed decision on a proposal (kept: anyone can re-check it). */
export interface ProposalVoted {
  readonly id: string;
  readonly member: string;
  readonly decision: 'approve' | 'reject';
  /** base64 of the signature over `decisionMessage`; null for the proposer's own request. */
  readonly signature: string | null;
}

export interface ProposalClosed {
  readonly id: string;
  readonly reason: string;
}
