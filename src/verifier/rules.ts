import { LruCache } from '../core/lru.js';
import type { PolicyVersion } from '../core/model.js';
import { compileRule, type RuleEvaluator } from '../policy/cel.js';

/**
 * A policy version's CEL rules, compiled once. Policy versions are immutable and
 * content-addressed, so a compiled set keyed by policy id never goes stale.
 */
export interface CompiledPolicyRules {
  /** The `PolicyVersion.id` these rules were compiled from. */
  readonly policyId: string;
  /** In the policy document's order (sorted by name). */
  readonly rules: readonly CompiledRule[];
}

export interface CompiledRule {
  readonly name: string;
  readonly evaluate: RuleEvaluator;
}

/**
 * Compiles every rule of `policy`. Never throws: a rule that no longer compiles (only
 * possible with a corrupted store, since rules are checked when written) becomes an
 * evaluator that always errors, so appraisal reports 'rule-error:<name>' and fails
 * closed instead of refusing to appraise at all.
 */
export function compilePolicyRules(policy: PolicyVersion): CompiledPolicyRules {
  const rules: CompiledRule[] = [];
  for (const [name, expression] of Object.entries(policy.document.rules)) {
    let evaluate: RuleEvaluator;
    try {
      evaluate = compileRule(expression, name);
    } catch (error) {
      const reason = `does not compile: ${error instanceof Error ? error.message : String(error)}`;
      evaluate = () => ({ ok: false, value: false, reason });
    }
    rules.push({ name, evaluate });
  }
  return { policyId: policy.id, rules };
}

/**
 * Memoises `compilePolicyRules` by policy id, keeping the most recently used `capacity`
 * entries: a verifier sees few policy versions at a time (one per workload, two during
 * a rollout), and the bound keeps a long-running process from growing without limit.
 */
export class PolicyRuleCache {
  readonly #entries: LruCache<string, CompiledPolicyRules>;

  constructor(capacity = 256) {
    this.#entries = new LruCache(capacity);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(policy: PolicyVersion): CompiledPolicyRules {
    return this.#entries.getOrSet(policy.id, () => compilePolicyRules(policy));
  }
}
