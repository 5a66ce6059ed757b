import { randomBytes } from 'node:crypto';
import { tally, type ApprovalRule } from '../core/constitution.js';
import { CovenantError } from '../core/errors.js';
import type { Actor, Member } from '../core/model.js';
import { blocking, proposalId, type ProposalDocument } from '../core/proposal.js';
import type { Attachment, Decision, Unit, UnitContext } from '../ledger/committer.js';
import type { NewEntry } from '../ledger/entry.js';
import type { Tx } from '../store/store.js';
import {
  AUTHORIZATION_DENIED,
  CHANGE_AUTHORIZED,
  PROPOSAL_CREATED,
  PROPOSAL_INVALIDATED,
  PROPOSAL_VOTED,
  type AuthorizationDenied,
  type ChangeAuthorized,
  type ProposalClosed,
  type ProposalCreated,
  type ProposalVoted,
} from './events.js';
import { ruleOfChange, type ActionClass } from './gate.js';
import { findMember, memberActor } from './members.js';
import { openProposals, ruleFor, rulesInForce } from './queries.js';

/**
 * A mutating command as data: its name and class, how to read its arguments back from
 * JSON (a request body, or a proposal stored for days), the object it changes, and what
 * it decides. Because a command is data, it can wait for approvals and run later
 * exactly as proposed.
 */
export interface CommandDefinition<A = unknown, T = unknown> {
  readonly name: string;
  readonly action: ActionClass;
  /** Validates arguments given as JSON; throws 'validation-failed'. */
  readonly parse: (args: unknown) => A;
  /** What it changes: at most one open proposal per target. */
  readonly target: (args: A) => string;
  /** Changes to members or the constitution: every other open proposal is invalidated. */
  readonly changesTrustBase?: boolean;
  /**
   * For arguments that must stay out of the ledger (a sealed secret value): what a
   * proposal records instead, and the attachments that keep the rest beside the ledger.
   * `parse` must accept the detached form too.
   */
  readonly detach?: (args: A) => { readonly args: unknown; readonly attachments: readonly Attachment[] };
  readonly run: (tx: Tx, ctx: UnitContext, actor: Actor, args: A) => Promise<Decision<T>>;
}

export function defineCommand<A, T>(definition: CommandDefinition<A, T>): CommandDefinition<A, T> {
  return definition;
}

/** A command as a proposal runs it: its arguments still JSON, its result opaque. */
export interface RegisteredCommand {
  readonly name: string;
  execute(tx: Tx, ctx: UnitContext, authority: Authority, args: unknown): Promise<Decision<unknown>>;
}

export function registered<A, T>(definition: CommandDefinition<A, T>): RegisteredCommand {
  return { name: definition.name, execute: (tx, ctx, authority, args) => runAuthorized(tx, ctx, definition, definition.parse(args), authority) };
}

/** What a proposal looks like to the member who made it and to the API. */
export interface ProposalView {
  readonly id: string;
  readonly status: 'open';
  readonly action: string;
  readonly command: string;
  readonly target: string;
  readonly proposer: string;
  readonly expiresAt: string;
  readonly approvals: readonly string[];
  readonly needed: number;
}

/**
 * Not an error: the command was recorded as a proposal and waits for approvals. It
 * travels as a rejection so the proposal's entries commit while the command's result
 * (which does not exist yet) is not returned; the HTTP edge answers 202.
 */
export class ProposalPending extends CovenantError {
  constructor(readonly proposal: ProposalView) {
    super('proposal-pending', `proposal ${proposal.id} is waiting for ${proposal.needed - proposal.approvals.length} more approval(s) under the ${proposal.action} rule`);
    this.name = 'ProposalPending';
  }
}

/** Who may put a change forward: an active member holding the role that approves it. */
function proposalRefusal(member: Member | undefined, rule: ApprovalRule, action: ActionClass): string | undefined {
  if (member === undefined) return 'the signing key belongs to no member';
  if (member.status !== 'active') return `member ${member.name} is ${member.status}`;
  if (!member.roles.includes(rule.role)) return `member ${member.name} lacks the ${rule.role} role required for ${action} changes`;
  return undefined;
}

export interface Authority {
  readonly proposer: string;
  readonly approvers: readonly string[];
  readonly proposal: string | null;
  readonly rule: ApprovalRule;
}

/** Every other open proposal, invalidated because the trust base it was made under changed. */
async function invalidations(tx: Tx, tenant: string, except: string | null, command: string): Promise<NewEntry<ProposalClosed>[]> {
  const open = (await openProposals(tx, tenant)).filter((proposal) => proposal.id !== except);
  return open.map((proposal) => ({ type: PROPOSAL_INVALIDATED, actor: 'system:ceremony', payload: { id: proposal.id, reason: `the trust base changed (${command}) after it was proposed` } }));
}

/**
 * Runs a command under an authority: the `change.authorized` entry naming who approved
 * it under which rule, then the command's own entries, then — for a change of the
 * trust base — the invalidation of every other open proposal. A refused command's
 * decision is returned as the command made it.
 */
export async function runAuthorized<A, T>(tx: Tx, ctx: UnitContext, definition: CommandDefinition<A, T>, args: A, authority: Authority): Promise<Decision<T>> {
  const decision = await definition.run(tx, ctx, memberActor(authority.proposer), args);
  if ('rejection' in decision) return decision;
  const authorized: ChangeAuthorized = {
    command: definition.name,
    action: definition.action,
    target: definition.target(args),
    rule: authority.rule,
    proposer: authority.proposer,
    approvers: authority.approvers,
    proposal: authority.proposal,
    produced: decision.entries.length,
  };
  const tail = definition.changesTrustBase ? await invalidations(tx, ctx.tenant, authority.proposal, definition.name) : [];
  const first = decision.entries[0];
  return {
    ...decision,
    entries: [{ type: CHANGE_AUTHORIZED, actor: memberActor(authority.proposer), ...(first?.workload === undefined ? {} : { workload: first.workload }), payload: authorized }, ...decision.entries, ...tail],
  };
}

/**
 * The gate every member's command passes: the signer must hold the role of the
 * command's rule; if their one signature satisfies the effective rule (see
 * `ACCEPTANCE_CLASSES`), the command runs now; otherwise, if it would run now, it becomes
 * a proposal waiting for approvals (`ProposalPending`) under that rule.
 */
export function governed<A, T>(signer: string, definition: CommandDefinition<A, T>, raw: unknown): Unit<T> {
  return async (tx, ctx) => {
    const args = definition.parse(raw);
    const actor = memberActor(signer);
    const member = await findMember(tx, ctx.tenant, signer);
    const { own: rule, effective } = ruleOfChange(definition.action, await rulesInForce(tx, ctx.tenant));
    const refusal = proposalRefusal(member, rule, definition.action);
    if (refusal !== undefined || member === undefined) {
      const reason = refusal ?? 'the signing key belongs to no member';
      const payload: AuthorizationDenied = { action: definition.action, command: definition.name, reason };
      return { entries: [{ type: AUTHORIZATION_DENIED, actor, payload }], rejection: new CovenantError('forbidden', reason) };
    }
    const own = tally(effective, signer, [{ name: member.name, roles: member.roles }]);
    if (own.satisfied) return runAuthorized(tx, ctx, definition, args, { proposer: signer, approvers: own.counted, proposal: null, rule: effective });

    // A change that would be refused now is refused now, not after days of approvals (and a
    // refusal the command records is recorded). It is decided again when it executes.
    const trial = await definition.run(tx, ctx, actor, args);
    if ('rejection' in trial) return trial;
    const target = definition.target(args);
    const blocker = blocking(await openProposals(tx, ctx.tenant), target, ctx.now);
    if (blocker !== undefined) {
      throw new CovenantError('conflict', `proposal ${blocker.id} for ${target} is still open (until ${blocker.document.expiresAt}): approve, reject or let it expire first`);
    }
    const detached = definition.detach?.(args) ?? { args: raw, attachments: [] };
    const document: ProposalDocument = {
      tenant: ctx.tenant,
      action: definition.action,
      command: definition.name,
      args: detached.args,
      target,
      proposer: signer,
      rule: effective,
      createdAt: ctx.now.toISOString(),
      expiresAt: new Date(ctx.now.getTime() + effective.expirySeconds * 1000).toISOString(),
      nonce: randomBytes(16).toString('base64url'),
    };
    const id = proposalId(document);
    const created: ProposalCreated = { id, document };
    const entries: NewEntry[] = [{ type: PROPOSAL_CREATED, actor, payload: created }];
    if (own.counted.length > 0) {
      const vote: ProposalVoted = { id, member: signer, decision: 'approve', signature: null };
      entries.push({ type: PROPOSAL_VOTED, actor, payload: vote });
    }
    return {
      entries,
      // Kept while the proposal may still execute: a rejected or lapsed proposal's sealed
      // value is then pruned. Executing stores it again, for as long as the command says.
      attachments: detached.attachments.map((attachment) => ({ ...attachment, expiresAt: new Date(document.expiresAt) })),
      rejection: new ProposalPending({ id, status: 'open', action: definition.action, command: definition.name, target, proposer: signer, expiresAt: document.expiresAt, approvals: own.counted, needed: own.needed }),
    };
  };
}

/**
 * For requests that change no trust but still need a member in a role (asking for a
 * checkpoint): the class's role is checked, a refusal ledgered, nothing else happens.
 */
export function roleCheck(signer: string, action: ActionClass, command: string): Unit<void> {
  return async (tx, ctx) => {
    const member = await findMember(tx, ctx.tenant, signer);
    const refusal = proposalRefusal(member, await ruleFor(tx, ctx.tenant, action), action);
    if (refusal === undefined) return { entries: [], result: undefined };
    const payload: AuthorizationDenied = { action, command, reason: refusal };
    return { entries: [{ type: AUTHORIZATION_DENIED, actor: memberActor(signer), payload }], rejection: new CovenantError('forbidden', refusal) };
  };
}
