import type { AcceptedRelease, PolicyDocument, TcbStatus } from '../core/model.js';

export interface Change<T> {
  readonly from: T;
  readonly to: T;
}

export interface RuleEntry {
  readonly name: string;
  readonly expression: string;
}

/**
 * What differs in the trust decision between two policy documents. Metadata (number,
 * actor, reason, time, predecessor) is left out: it differs between any two versions
 * and says nothing about what the verifier will accept. Unchanged scalars are `null`
 * rather than absent so the shape is the same in JSON for every diff.
 */
export interface PolicyDiff {
  /** True when the two documents accept exactly the same evidence. */
  readonly identical: boolean;
  readonly accepted: { readonly added: readonly AcceptedRelease[]; readonly removed: readonly AcceptedRelease[] };
  readonly securityVersionFloor: Change<number> | null;
  readonly debugForbidden: Change<boolean> | null;
  readonly requiredTcbStatus: Change<readonly TcbStatus[]> | null;
  readonly rules: {
    readonly added: readonly RuleEntry[];
    readonly removed: readonly RuleEntry[];
    readonly changed: readonly (Change<string> & { readonly name: string })[];
  };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// A version re-pinned to another digest shows as removed + added: the pin is the identity.
const pinKey = (a: AcceptedRelease): string => `${a.version}\u0000${a.digest}`;

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

export function diffPolicies(a: PolicyDocument, b: PolicyDocument): PolicyDiff {
  const before = new Map(a.accepted.map((r) => [pinKey(r), r]));
  const after = new Map(b.accepted.map((r) => [pinKey(r), r]));
  const byVersion = (x: AcceptedRelease, y: AcceptedRelease): number =>
    byCodeUnits(x.version, y.version) || byCodeUnits(x.digest, y.digest);
  const added = [...after].filter(([key]) => !before.has(key)).map(([, r]) => r).sort(byVersion);
  const removed = [...before].filter(([key]) => !after.has(key)).map(([, r]) => r).sort(byVersion);

  const ruleNames = [...new Set([...Object.keys(a.rules), ...Object.keys(b.rules)])].sort(byCodeUnits);
  const rulesAdded: RuleEntry[] = [];
  const rulesRemoved: RuleEntry[] = [];
  const rulesChanged: (Change<string> & { name: string })[] = [];
  for (const name of ruleNames) {
    const from = Object.hasOwn(a.rules, name) ? a.rules[name] : undefined;
    const to = Object.hasOwn(b.rules, name) ? b.rules[name] : undefined;
    if (from === undefined && to !== undefined) rulesAdded.push({ name, expression: to });
    else if (from !== undefined && to === undefined) rulesRemoved.push({ name, expression: from });
    else if (from !== undefined && to !== undefined && from !== to) rulesChanged.push({ name, from, to });
  }

  const securityVersionFloor =
    a.securityVersionFloor === b.securityVersionFloor ? null : { from: a.securityVersionFloor, to: b.securityVersionFloor };
  const debugForbidden = a.debugForbidden === b.debugForbidden ? null : { from: a.debugForbidden, to: b.debugForbidden };
  const requiredTcbStatus = sameList(a.requiredTcbStatus, b.requiredTcbStatus)
    ? null
    : { from: [...a.requiredTcbStatus], to: [...b.requiredTcbStatus] };

  const identical =
    added.length === 0 &&
    removed.length === 0 &&
    securityVersionFloor === null &&
    debugForbidden === null &&
    requiredTcbStatus === null &&
    rulesAdded.length === 0 &&
    rulesRemoved.length === 0 &&
    rulesChanged.length === 0;

  return {
    identical,
    accepted: { added, removed },
    securityVersionFloor,
    debugForbidden,
    requiredTcbStatus,
    rules: { added: rulesAdded, removed: rulesRemoved, changed: rulesChanged },
  };
}

// Every line of a multi-line CEL expression keeps the marker, so `grep '^+'` sees it all.
function marked(marker: '+' | '-', head: string, body?: string): string[] {
  if (body === undefined) return [`${marker} ${head}`];
  const [first, ...rest] = body.split('\n');
  return [`${marker} ${head}: ${first ?? ''}`, ...rest.map((line) => `${marker}   ${line}`)];
}

const debugWord = (forbidden: boolean): string => (forbidden ? 'forbidden' : 'allowed');
const tcbWords = (statuses: readonly TcbStatus[]): string => (statuses.length === 0 ? '(none)' : statuses.join(', '));

/** Unified-diff-like text: `-` what the old version had, `+` what the new one has. */
export function formatPolicyDiff(diff: PolicyDiff): string {
  if (diff.identical) return 'no changes';
  const lines: string[] = [];
  for (const r of diff.accepted.removed) lines.push(...marked('-', `accept ${r.version} (digest ${r.digest})`));
  for (const r of diff.accepted.added) lines.push(...marked('+', `accept ${r.version} (digest ${r.digest})`));
  if (diff.securityVersionFloor !== null) {
    lines.push(`- floor ${diff.securityVersionFloor.from}`, `+ floor ${diff.securityVersionFloor.to}`);
  }
  if (diff.debugForbidden !== null) {
    lines.push(`- debug ${debugWord(diff.debugForbidden.from)}`, `+ debug ${debugWord(diff.debugForbidden.to)}`);
  }
  if (diff.requiredTcbStatus !== null) {
    lines.push(`- tcb ${tcbWords(diff.requiredTcbStatus.from)}`, `+ tcb ${tcbWords(diff.requiredTcbStatus.to)}`);
  }
  for (const rule of diff.rules.removed) lines.push(...marked('-', `rule ${rule.name}`, rule.expression));
  for (const rule of diff.rules.changed) {
    lines.push(...marked('-', `rule ${rule.name}`, rule.from), ...marked('+', `rule ${rule.name}`, rule.to));
  }
  for (const rule of diff.rules.added) lines.push(...marked('+', `rule ${rule.name}`, rule.expression));
  return lines.join('\n');
}
