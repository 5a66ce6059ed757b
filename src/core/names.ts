import { CovenantError } from './errors.js';

/**
 * Names that become keys (in the store, the ledger, URLs, CEL maps). Each kind has a
 * `…Problem` function that explains what is wrong (or returns undefined) and a
 * `validate…` function that returns the value or throws 'validation-failed' naming the
 * field. Identifiers are lowercase where two spellings must never name two things
 * (`Payments/ingest` vs `payments/ingest`); versions keep case because build systems use it.
 */

export const MAX_WORKLOAD_NAME_LENGTH = 128;

const ECHO_LIMIT = 48;

function echo(text: string): string {
  return JSON.stringify(text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text);
}

function notAString(value: unknown): string | undefined {
  if (typeof value === 'string') return undefined;
  return `expected a string, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`;
}

/** Returns `value` as a string, or throws 'validation-failed' with one issue for `field`. */
export type NameValidator = (value: unknown, field?: string) => string;

function validator(kind: string, problem: (value: unknown) => string | undefined, defaultField: string): NameValidator {
  return (value, field = defaultField) => {
    const message = problem(value);
    if (message !== undefined) {
      throw new CovenantError('validation-failed', `${field}: invalid ${kind}: ${message}`, {
        issues: [{ field, message }],
      });
    }
    return value as string;
  };
}

function patternProblem(value: unknown, pattern: RegExp, description: string, maxLength: number): string | undefined {
  const wrongType = notAString(value);
  if (wrongType !== undefined) return wrongType;
  const text = value as string;
  if (text.length === 0) return 'must not be empty';
  if (text.length > maxLength) return `must be at most ${maxLength} characters, got ${text.length}`;
  if (!pattern.test(text)) return `${echo(text)} must match ${description}`;
  return undefined;
}

const SEGMENT = /^[a-z0-9][a-z0-9._-]*$/;

/** A workload: lowercase segments `[a-z0-9][a-z0-9._-]*` joined by `/`, e.g. `payments/ingest`. */
export function workloadNameProblem(value: unknown): string | undefined {
  const wrongType = notAString(value);
  if (wrongType !== undefined) return wrongType;
  const text = value as string;
  if (text.length === 0) return 'must not be empty';
  if (text.length > MAX_WORKLOAD_NAME_LENGTH) {
    return `must be at most ${MAX_WORKLOAD_NAME_LENGTH} characters, got ${text.length}`;
  }
  const segments = text.split('/');
  for (const [index, segment] of segments.entries()) {
    if (segment.length === 0) {
      return `${echo(text)} has an empty segment at position ${index + 1} (no leading, trailing or double "/")`;
    }
    if (!SEGMENT.test(segment)) {
      return `segment ${index + 1} ${echo(segment)} must match [a-z0-9][a-z0-9._-]* (lowercase letters, digits, ".", "_", "-")`;
    }
  }
  return undefined;
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** A release version, e.g. `1.4.2`, `2024.06.01-rc.1+build.7`. */
export function releaseVersionProblem(value: unknown): string | undefined {
  return patternProblem(value, VERSION, '[A-Za-z0-9][A-Za-z0-9._+-]{0,63}', 64);
}

const CONFIG_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A security-sensitive configuration item of a release, e.g. `root-store`. */
export function configNameProblem(value: unknown): string | undefined {
  return patternProblem(value, CONFIG_NAME, '[a-z0-9][a-z0-9._-]{0,63}', 64);
}

// A name, never evaluated: it appears in reason codes (`rule-failed:<name>`), diffs and
// as an object key, so "-" is as safe as "_" (no ":", "/", spaces or dots). `__proto__`
// is refused: as a key of a plain object it would vanish instead of naming a rule.
const RULE_NAME = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** A custom policy rule's name, e.g. `min_tcb_date` or `min-tcb-date`. */
export function ruleNameProblem(value: unknown): string | undefined {
  return patternProblem(value, RULE_NAME, '[A-Za-z_][A-Za-z0-9_-]{0,63} (letters, digits, "_", "-"; not __proto__)', 64);
}

// "@" is allowed so members can be named by e-mail address.
const MEMBER_NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** A governance member, e.g. `alice` or `alice@example.com`. */
export function memberNameProblem(value: unknown): string | undefined {
  return patternProblem(value, MEMBER_NAME, '[a-z0-9][a-z0-9._@-]{0,63}', 64);
}

const ROLE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** A member role, e.g. `release-manager`. */
export function roleNameProblem(value: unknown): string | undefined {
  return patternProblem(value, ROLE_NAME, '[a-z][a-z0-9-]{0,31}', 32);
}

const TENANT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A tenant, e.g. `default`. */
export function tenantNameProblem(value: unknown): string | undefined {
  return patternProblem(value, TENANT_NAME, '[a-z0-9][a-z0-9-]{0,62}', 63);
}

export const validateWorkloadName = validator('workload name', workloadNameProblem, 'workload');
export const validateReleaseVersion = validator('release version', releaseVersionProblem, 'version');
export const validateConfigName = validator('config name', configNameProblem, 'config');
export const validateRuleName = validator('rule name', ruleNameProblem, 'rule');
export const validateMemberName = validator('member name', memberNameProblem, 'member');
export const validateRoleName = validator('role name', roleNameProblem, 'role');
export const validateTenantName = validator('tenant name', tenantNameProblem, 'tenant');
