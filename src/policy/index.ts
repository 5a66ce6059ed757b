/** The policy context: rule language, policy diffs, and the workload/release/policy commands. */
export {
  MAX_BINDS,
  MAX_COMPREHENSION_NESTING,
  MAX_COMPREHENSIONS,
  MAX_RULE_BYTES,
  RULE_VARIABLES,
  checkRule,
  compileRule,
  type RuleActivation,
  type RuleCheck,
  type RuleEvaluator,
  type RuleOutcome,
} from './cel.js';
export { diffPolicies, formatPolicyDiff, type Change, type PolicyDiff, type RuleEntry } from './diff.js';
export * from './events.js';
export * from './commands.js';
export * from './queries.js';
