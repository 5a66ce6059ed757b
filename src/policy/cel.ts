import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';
import { CovenantError } from '../core/errors.js';

/**
 * Custom policy rules are CEL expressions that must evaluate to `true` for an instance
 * to pass appraisal. This module is the only place that touches the CEL library, so the
 * rest of Covenant sees two functions: `checkRule` (used when a policy is written) and
 * `compileRule` (used by the verifier).
 *
 * The environment a rule sees — the verifier builds exactly this activation:
 *
 * | variable     | CEL type            | meaning                                                  |
 * | ------------ | ------------------- | -------------------------------------------------------- |
 * | `claims`     | map(string, dyn)    | normalised evidence claims of the attesting instance     |
 * | `tee`        | string              | TEE class of the evidence (`sev-snp`, `tdx`, …)          |
 * | `release`    | string              | version of the accepted release the evidence matched     |
 * | `svn`        | int                 | security version of that release                         |
 * | `debug`      | bool                | whether the TEE runs in debug mode                       |
 * | `tcb_status` | string              | TCB status (`UpToDate`, `OutOfDate`, …)                  |
 * | `config`     | map(string, string) | the release's configuration digests, name → `alg:hex`    |
 * | `workload`   | string              | the workload the instance attests as                     |
 * | `devices`    | list(map(string, dyn)) | attached devices' appraisals: `tee`, `status`, `release` (`''` when none matched) |
 *
 * A policy that must not let data reach an unattested GPU says so with a rule such as
 * `devices.exists(d, d.tee == 'nvidia-gpu' && d.status == 'affirming')`.
 *
 * A rule's static type must be `bool`: a `dyn` result (e.g. a bare `claims.flag`) is
 * rejected so that a typo cannot pass type checking and fail only at appraisal time;
 * write `claims.flag == true` instead.
 */

export const RULE_VARIABLES = Object.freeze({
  claims: 'map<string, dyn>',
  tee: 'string',
  release: 'string',
  svn: 'int',
  debug: 'bool',
  tcb_status: 'string',
  config: 'map<string, string>',
  workload: 'string',
  devices: 'list<map<string, dyn>>',
} as const);

/** Longest accepted rule, in UTF-8 bytes. */
export const MAX_RULE_BYTES = 4096;

/*
 * CEL is not Turing complete, but this library has no evaluation cost budget, and the
 * verifier evaluates rules synchronously on its hot path. Nested comprehensions multiply
 * work (n^depth over a claims list), and `cel.bind` or chained `map` steps can double a
 * list per step. These static bounds keep the worst case polynomial and small for the
 * rules policies actually need.
 */
export const MAX_COMPREHENSION_NESTING = 2;
export const MAX_COMPREHENSIONS = 8;
export const MAX_BINDS = 4;
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

const environment = (() => {
  const env = new Environment({
    limits: { maxAstNodes: 2048, maxDepth: 32, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
  });
  for (const [name, type] of Object.entries(RULE_VARIABLES)) env.registerVariable(name, type);
  return env;
})();

export type RuleCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** The values a rule is evaluated against; see the table above. */
export interface RuleActivation {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly tee: string;
  readonly release: string;
  readonly svn: number | bigint;
  readonly debug: boolean;
  readonly tcb_status: string;
  readonly config: Readonly<Record<string, string>>;
  readonly workload: string;
  /** Absent where no devices can be attached (a key release's activation): none. */
  readonly devices?: readonly DeviceSummary[];
}

/** What a rule knows of an attached device: its class, its verdict, its release. */
export interface DeviceSummary {
  readonly tee: string;
  readonly status: string;
  readonly release: string;
}

/**
 * Outcome of evaluating a rule: `value` is always the verdict (an evaluation error
 * counts as false: fail closed); `reason` says why it was not a clean true/false.
 */
export type RuleOutcome =
  | { readonly ok: true; readonly value: boolean }
  | { readonly ok: false; readonly value: false; readonly reason: string };

export type RuleEvaluator = (activation: RuleActivation) => RuleOutcome;

interface ErrorWithRange {
  readonly summary?: unknown;
  readonly message?: unknown;
  readonly range?: { readonly start: number } | undefined;
}

/** One line: the library's summary and where it points, without its ASCII-art excerpt. */
function describeError(error: unknown, expression: string): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const { summary, message, range } = error as ErrorWithRange;
  const text = typeof summary === 'string' ? summary : typeof message === 'string' ? (message.split('\n')[0] ?? message) : String(error);
  if (range === undefined || typeof range.start !== 'number') return text;
  const before = expression.slice(0, range.start);
  const line = before.split('\n').length;
  const column = range.start - before.lastIndexOf('\n');
  return `${text} (line ${line}, column ${column})`;
}

function children(node: ASTNode): ASTNode[] {
  const found: ASTNode[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null && 'op' in value) found.push(value as ASTNode);
  };
  visit(node.args);
  return found;
}

function isBind(node: ASTNode): boolean {
  if (node.op !== 'rcall') return false;
  const [name, receiver] = node.args;
  return name === 'bind' && receiver.op === 'id' && receiver.args === 'cel';
}

function complexityProblem(root: ASTNode): string | undefined {
  let comprehensions = 0;
  let binds = 0;
  let deepest = 0;
  const walk = (node: ASTNode, nesting: number): void => {
    let inner = nesting;
    if (node.op === 'rcall' && COMPREHENSIONS.has(node.args[0])) {
      comprehensions += 1;
      inner = nesting + 1;
      deepest = Math.max(deepest, inner);
      const [, receiver, args] = node.args;
      // The range is evaluated once, outside the loop; only the loop body nests.
      walk(receiver, nesting);
      for (const arg of args) walk(arg, inner);
      return;
    }
    if (isBind(node)) binds += 1;
    for (const child of children(node)) walk(child, inner);
  };
  walk(root, 0);
  if (deepest > MAX_COMPREHENSION_NESTING) {
    return `comprehensions (all, exists, exists_one, map, filter) nest ${deepest} deep; at most ${MAX_COMPREHENSION_NESTING} allowed`;
  }
  if (comprehensions > MAX_COMPREHENSIONS) {
    return `${comprehensions} comprehensions (all, exists, exists_one, map, filter); at most ${MAX_COMPREHENSIONS} allowed`;
  }
  if (binds > MAX_BINDS) return `${binds} cel.bind calls; at most ${MAX_BINDS} allowed`;
  return undefined;
}

type Analysis = { readonly ok: true; readonly parsed: ParseResult } | { readonly ok: false; readonly message: string };

function analyse(expression: unknown): Analysis {
  if (typeof expression !== 'string') return { ok: false, message: `expected a string, got ${typeof expression}` };
  if (expression.trim().length === 0) return { ok: false, message: 'expression is empty' };
  const bytes = Buffer.byteLength(expression, 'utf8');
  if (bytes > MAX_RULE_BYTES) return { ok: false, message: `expression is ${bytes} bytes; at most ${MAX_RULE_BYTES} allowed` };
  let parsed: ParseResult;
  try {
    parsed = environment.parse(expression);
  } catch (error) {
    return { ok: false, message: `syntax error: ${describeError(error, expression)}` };
  }
  let checked: ReturnType<ParseResult['check']>;
  try {
    checked = parsed.check();
  } catch (error) {
    return { ok: false, message: `type error: ${describeError(error, expression)}` };
  }
  if (!checked.valid) {
    const kind = checked.error?.name === 'ParseError' ? 'syntax error' : 'type error';
    return { ok: false, message: `${kind}: ${describeError(checked.error, expression)}` };
  }
  if (checked.type !== 'bool') {
    return { ok: false, message: `a rule must have type bool, this expression has type ${checked.type ?? 'unknown'}` };
  }
  const complexity = complexityProblem(parsed.ast);
  if (complexity !== undefined) return { ok: false, message: `too complex: ${complexity}` };
  return { ok: true, parsed };
}

/** Whether `expression` is an acceptable rule: parses, type-checks to bool, within bounds. */
export function checkRule(expression: string): RuleCheck {
  const analysis = analyse(expression);
  return analysis.ok ? { ok: true } : { ok: false, message: analysis.message };
}

/*
 * Claims come from JSON-like evidence where 5 and 5.0 are the same number. CEL keeps
 * int and double apart (`claims.n + 1` has no int+double overload), and evidence
 * counters are integers, so integral numbers become CEL ints.
 */
function toCel(value: unknown, depth: number): unknown {
  if (depth > 32) throw new RangeError('claims nest deeper than 32 levels');
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((item) => toCel(item, depth + 1));
  if (value instanceof Uint8Array || value instanceof Date || value === null || typeof value !== 'object') return value;
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, toCel(v, depth + 1)]));
  const out = new Map<string, unknown>();
  for (const [key, item] of Object.entries(value)) out.set(key, toCel(item, depth + 1));
  return out;
}

function toContext(activation: RuleActivation): Record<string, unknown> {
  const svn = activation.svn;
  if (typeof svn === 'number' && !Number.isSafeInteger(svn)) throw new RangeError(`svn ${svn} is not an integer`);
  return {
    claims: toCel(activation.claims, 0),
    tee: activation.tee,
    release: activation.release,
    svn: typeof svn === 'number' ? BigInt(svn) : svn,
    debug: activation.debug,
    tcb_status: activation.tcb_status,
    config: new Map(Object.entries(activation.config)),
    workload: activation.workload,
    devices: (activation.devices ?? []).map((device) => new Map(Object.entries(device))),
  };
}

/**
 * Compiles a rule once for repeated evaluation. An invalid rule throws 'invalid-rule'
 * (policies are checked when written, so this only fires on a corrupted store). The
 * evaluator itself never throws: evaluation errors become `{ ok: false, value: false }`.
 */
export function compileRule(expression: string, name = 'rule'): RuleEvaluator {
  const analysis = analyse(expression);
  if (!analysis.ok) throw new CovenantError('invalid-rule', `rule ${JSON.stringify(name)}: ${analysis.message}`);
  const { parsed } = analysis;
  return (activation) => {
    let result: unknown;
    try {
      result = parsed(toContext(activation));
    } catch (error) {
      return { ok: false, value: false, reason: describeError(error, expression) };
    }
    if (typeof result !== 'boolean') {
      return { ok: false, value: false, reason: `evaluated to ${typeof result}, not bool` };
    }
    return { ok: true, value: result };
  };
}
