import { CovenantError } from '../core/errors.js';

/**
 * A key-broker resource is named `repository/type/tag`, as in the KBS resource path
 * (`GET /kbs/v0/resource/<repository>/<type>/<tag>`). Segments keep their case, as
 * Trustee's do, so names copied from an existing KBS keep working; each is 1–64 of
 * `[A-Za-z0-9._-]`, not starting with a dot (no `.`/`..` path tricks).
 *
 * The repository `sealing` is the broker's own: `sealing/key/current` and
 * `sealing/key/legacy` are the caller's sealing-key slots (slots.ts), derived, never
 * stored, so no secret can be written under that name.
 */
export interface ResourceName {
  readonly repository: string;
  readonly type: string;
  readonly tag: string;
}

export const SEALING_REPOSITORY = 'sealing';
export const SLOTS = ['current', 'legacy'] as const;
export type Slot = (typeof SLOTS)[number];

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

export const formatResource = (name: ResourceName): string => `${name.repository}/${name.type}/${name.tag}`;

/** Why `value` is not a segment, or undefined. */
export function segmentProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
  if (!SEGMENT.test(value)) return `${JSON.stringify(value.slice(0, 64))} must be 1 to 64 of [A-Za-z0-9._-], not starting with a dot`;
  return undefined;
}

/** Parses `repository/type/tag`; throws 'validation-failed' naming `field`. */
export function parseResource(value: unknown, field = 'resource'): ResourceName {
  const fail = (message: string): never => {
    throw new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
  };
  if (typeof value !== 'string') return fail('expected a string repository/type/tag');
  const parts = value.split('/');
  if (parts.length !== 3) return fail(`${JSON.stringify(value.slice(0, 200))} is not repository/type/tag`);
  for (const part of parts) {
    const problem = segmentProblem(part);
    if (problem !== undefined) fail(problem);
  }
  const [repository, type, tag] = parts as [string, string, string];
  return { repository, type, tag };
}

/**
 * A resource a member may write: any valid name outside the broker's own repository,
 * in any case — `Sealing/key/current` beside `sealing/key/current` would be read as the
 * slot by one client and as a stored secret by another. Segments are ASCII only, so no
 * Unicode look-alike of the name can be written either.
 */
export function parseWritableResource(value: unknown, field = 'resource'): ResourceName {
  const name = parseResource(value, field);
  if (name.repository.toLowerCase() === SEALING_REPOSITORY) {
    const message = `the repository ${SEALING_REPOSITORY} holds the derived sealing-key slots; secrets cannot be stored there`;
    throw new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
  }
  return name;
}

/** The slot a resource path names, if it is one of the sealing-key slots. */
export function slotOf(name: ResourceName): Slot | undefined {
  if (name.repository !== SEALING_REPOSITORY || name.type !== 'key') return undefined;
  return (SLOTS as readonly string[]).includes(name.tag) ? (name.tag as Slot) : undefined;
}
