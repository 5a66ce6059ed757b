import { quorums, type ApprovalRule } from '../core/constitution.js';
import type { LedgerEntry } from '../ledger/entry.js';
import { CHANGE_REFUSED, type ChangeRefused } from '../policy/events.js';
import {
  AUTHORIZATION_DENIED,
  CHANGE_AUTHORIZED,
  PROPOSAL_CREATED,
  PROPOSAL_FAILED,
  PROPOSAL_INVALIDATED,
  PROPOSAL_REJECTED,
  type AuthorizationDenied,
  type ChangeAuthorized,
  type ProposalClosed,
  type ProposalCreated,
} from './events.js';

/**
 * The auditor's view of a stretch of the ledger: every change of trust, who proposed
 * it, whose signatures approved it and under which rule, with break-glass flagged;
 * changes the system made by itself under rules approved earlier (the rollout driver);
 * the proposals that did not execute; and the changes that were refused — a downgrade
 * or re-admission the policy turned down, a signed request its signer may not make —
 * since an attempt to lower trust is what an auditor most wants to see. Pure: computed from ledger entries alone, so
 * anyone with the log can recompute it.
 */
export interface ChangeRecord {
  readonly seq: number;
  readonly time: string;
  readonly command: string;
  readonly action: string;
  readonly target: string;
  readonly workload?: string;
  readonly proposer: string;
  readonly approvers: readonly string[];
  readonly rule: ApprovalRule;
  readonly proposal: string | null;
  readonly breakGlass: boolean;
  /** What the change wrote, one line per entry. */
  readonly effects: readonly string[];
}

export interface AutomaticChange {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly workload?: string;
  readonly effect: string;
}

export interface UnexecutedProposal {
  readonly id: string;
  readonly command: string;
  readonly proposer: string;
  readonly createdAt: string;
  readonly outcome: 'rejected' | 'failed' | 'invalidated' | 'expired';
  readonly reason: string;
}

/** A change of trust the ledger recorded as refused, and why. */
export interface RefusedChange {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly workload?: string;
  readonly command: string;
  /** `policy.change-refused`'s problem type (`readmission-refused`, …), or `forbidden` for the gate's refusal. */
  readonly refusal: string;
  readonly reason: string;
}

export interface TrustReport {
  readonly since: string;
  readonly changes: readonly ChangeRecord[];
  readonly automatic: readonly AutomaticChange[];
  readonly unexecuted: readonly UnexecutedProposal[];
  readonly refused: readonly RefusedChange[];
  readonly breakGlass: number;
}

/** Entries the system writes by itself that change trust state. */
const AUTOMATIC = new Set(['policy.version-created', 'rollout.advanced', 'rollout.completed', 'rollout.rolled-back']);

/** A rollout step a person forced past a fleet that had not caught up (src/core/rollout.ts, checkFleet). */
const forcedPast = (p: Record<string, unknown>): string => (p['forced'] === true ? `⚠ FORCED past the fleet (${String((p['fleet'] as { detail?: string } | undefined)?.detail)}): ` : '');

/** One line about what an entry did. */
export function describeEntry(entry: LedgerEntry): string {
  const p = entry.payload as Record<string, unknown>;
  const doc = p['document'] as Record<string, unknown> | undefined;
  switch (entry.type) {
    case 'workload.created':
      return `workload ${String(p['name'])} created`;
    case 'release.registered':
      return `release ${String(doc?.['version'])} registered (${String(p['digest']).slice(0, 16)}…)`;
    case 'policy.version-created': {
      const accepted = ((doc?.['accepted'] ?? []) as { version: string; until?: string }[]).map((a) => (a.until ? `${a.version} until ${a.until}` : a.version));
      return `policy version ${String(doc?.['number'])} (${String(p['id']).slice(0, 16)}…): accepts ${accepted.join(', ') || 'nothing'}, floor ${String(doc?.['securityVersionFloor'])}: ${String(doc?.['reason'])}`;
    }
    case 'member.added':
      return `member ${String(p['name'])} added (${((p['roles'] ?? []) as string[]).join(', ')})`;
    case 'member.removed':
      return `member ${String(p['name'])} removed`;
    case 'constitution.rule-set': {
      const rule = p['rule'] as ApprovalRule;
      return `rule for ${String(p['action'])}: ${rule.threshold} of ${rule.role}${rule.proposerCounts ? ' (proposer counts)' : ''}, expiry ${rule.expirySeconds}s${rule.vetoRoles.length > 0 ? `, veto ${rule.vetoRoles.join(', ')}` : ''}`;
    }
    case 'rollout.started': {
      const d = p['document'] as { number: number; from: string[]; to: string };
      return `rollout #${d.number} started: ${d.from.join(', ') || '(nothing)'} → ${d.to}`;
    }
    case 'rollout.advanced':
      return `${forcedPast(p)}rollout #${String(p['number'])} advanced to wave ${Number(p['toWave']) + 1}: ${String(p['reason'])}`;
    case 'rollout.completed':
    case 'rollout.rolled-back':
      return `${forcedPast(p)}rollout #${String(p['number'])} ${entry.type === 'rollout.completed' ? 'completed' : 'rolled back'}: ${String((p['outcome'] as { reason: string }).reason)}`;
    case 'release.revoked':
      return `release ${String(p['version'])} revoked${p['deadline'] ? ` with a deadline ${String(p['deadline'])}` : ''}: ${String(p['reason'])}`;
    case 'policy.break-glass':
      return `BREAK-GLASS: ${(p['versions'] as string[]).join(', ')} accepted until ${String(p['until'])}: ${String(p['reason'])}`;
    case 'policy.break-glass-ratified':
      return `break-glass ratified for ${(p['versions'] as string[]).join(', ')}: ${String(p['reason'])}`;
    case 'collateral.imported':
      return `collateral imported (${String(p['kind'])}): ${String(p['subject'])}, valid until ${String(p['notAfter'])} (${String(p['digest']).slice(0, 16)}…)`;
    case 'trust-anchor.added':
      return `TRUST ANCHOR added for ${String(p['tee'])}: ${String(p['subject'])}, valid until ${String(p['notAfter'])} (${String(p['digest']).slice(0, 16)}…)`;
    case 'trust-anchor.removed':
      return `trust anchor removed from ${String(p['tee'])} (${String(p['digest']).slice(0, 16)}…)`;
    default:
      return entry.type;
  }
}

/** The report over `entries` (those since `since`); proposals open past their expiry at `now` count as expired. */
export function trustReport(entries: readonly LedgerEntry[], since: string, now: Date): TrustReport {
  const changes: ChangeRecord[] = [];
  const automatic: AutomaticChange[] = [];
  const proposals = new Map<string, ProposalCreated['document']>();
  const closed = new Set<string>();
  const unexecuted: UnexecutedProposal[] = [];
  const refused: RefusedChange[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.type === CHANGE_AUTHORIZED) {
      const authorized = entry.payload as ChangeAuthorized;
      const effects = entries.slice(i + 1, i + 1 + authorized.produced);
      changes.push({
        seq: entry.seq,
        time: entry.time,
        command: authorized.command,
        action: authorized.action,
        target: authorized.target,
        ...(entry.workload === undefined ? {} : { workload: entry.workload }),
        proposer: authorized.proposer,
        approvers: authorized.approvers,
        rule: authorized.rule,
        proposal: authorized.proposal,
        breakGlass: authorized.action === 'break-glass',
        effects: effects.map(describeEntry),
      });
      i += effects.length;
      if (authorized.proposal !== null) closed.add(authorized.proposal);
    } else if (entry.type === PROPOSAL_CREATED) {
      const created = entry.payload as ProposalCreated;
      proposals.set(created.id, created.document);
    } else if (entry.type === PROPOSAL_REJECTED || entry.type === PROPOSAL_FAILED || entry.type === PROPOSAL_INVALIDATED) {
      const ended = entry.payload as ProposalClosed;
      closed.add(ended.id);
      const document = proposals.get(ended.id);
      unexecuted.push({
        id: ended.id,
        command: document?.command ?? '(proposed before the report starts)',
        proposer: document?.proposer ?? '',
        createdAt: document?.createdAt ?? '',
        outcome: entry.type === PROPOSAL_REJECTED ? 'rejected' : entry.type === PROPOSAL_FAILED ? 'failed' : 'invalidated',
        reason: ended.reason,
      });
    } else if (entry.type === CHANGE_REFUSED || entry.type === AUTHORIZATION_DENIED) {
      const denied = entry.payload as ChangeRefused | AuthorizationDenied;
      refused.push({
        seq: entry.seq,
        time: entry.time,
        actor: entry.actor,
        ...(entry.workload === undefined ? {} : { workload: entry.workload }),
        command: denied.command,
        refusal: 'type' in denied ? denied.type : 'forbidden',
        reason: denied.reason,
      });
    } else if (entry.actor.startsWith('system:') && AUTOMATIC.has(entry.type)) {
      automatic.push({ seq: entry.seq, time: entry.time, actor: entry.actor, ...(entry.workload === undefined ? {} : { workload: entry.workload }), effect: describeEntry(entry) });
    }
  }
  // Expiry writes no entry: a proposal neither executed nor closed is expired once its time has passed.
  for (const [id, document] of proposals) {
    if (!closed.has(id) && Date.parse(document.expiresAt) <= now.getTime()) {
      unexecuted.push({ id, command: document.command, proposer: document.proposer, createdAt: document.createdAt, outcome: 'expired', reason: `expired at ${document.expiresAt}` });
    }
  }
  return { since, changes, automatic, unexecuted, refused, breakGlass: changes.filter((c) => c.breakGlass).length };
}

/** "2 of admin, proposer counts", and each further quorum an effective rule asks for. */
export function describeQuorums(rule: ApprovalRule): string {
  return quorums(rule)
    .map((q) => `${q.threshold} of ${q.role}${q.proposerCounts ? ', proposer counts' : ''}${q.from === undefined ? '' : ` (${q.from} rule)`}`)
    .join('; and ');
}

/** The report as Markdown, for people (and pasting into tickets). */
export function reportMarkdown(report: TrustReport): string {
  const lines = [`# Changes of trust since ${report.since}`, '', `${report.changes.length} changes, ${report.breakGlass} break-glass, ${report.automatic.length} automatic, ${report.unexecuted.length} proposals not executed, ${report.refused.length} refused.`, ''];
  lines.push('## Changes', '');
  if (report.changes.length === 0) lines.push('None.', '');
  for (const c of report.changes) {
    lines.push(`### ${c.breakGlass ? '⚠ BREAK-GLASS: ' : ''}${c.command}${c.workload ? ` on ${c.workload}` : ''} (entry ${c.seq}, ${c.time})`);
    lines.push('');
    lines.push(`- proposed by ${c.proposer}; approved by ${c.approvers.join(', ')}${c.proposal ? ` (proposal ${c.proposal.slice(0, 16)}…)` : ' (one signature)'}`);
    lines.push(`- rule: ${describeQuorums(c.rule)}`);
    for (const effect of c.effects) lines.push(`- ${effect}`);
    lines.push('');
  }
  if (report.automatic.length > 0) {
    lines.push('## Automatic, by rules approved earlier', '');
    for (const a of report.automatic) lines.push(`- entry ${a.seq}, ${a.time}, ${a.actor}${a.workload ? ` on ${a.workload}` : ''}: ${a.effect}`);
    lines.push('');
  }
  if (report.unexecuted.length > 0) {
    lines.push('## Proposals not executed', '');
    for (const u of report.unexecuted) lines.push(`- ${u.id.slice(0, 16)}… ${u.command} by ${u.proposer} (${u.createdAt}): ${u.outcome}: ${u.reason}`);
    lines.push('');
  }
  if (report.refused.length > 0) {
    lines.push('## Refused', '');
    for (const r of report.refused) lines.push(`- entry ${r.seq}, ${r.time}, ${r.command} by ${r.actor}${r.workload ? ` on ${r.workload}` : ''}: ${r.refusal}: ${r.reason}`);
    lines.push('');
  }
  return lines.join('\n');
}
