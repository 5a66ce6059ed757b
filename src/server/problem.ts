import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type ZodFastifySchemaValidationError } from 'fastify-type-provider-zod';
import { CovenantError, problemTypeUri, type FieldIssue, type ProblemType } from '../core/errors.js';
import { ProposalPending } from '../ceremony/command.js';
import { RateLimited } from './admission.js';
import { StoreUnavailable } from '../store/faults.js';

/** RFC 9457 problem details, with the offending fields when there are any. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly errors?: readonly FieldIssue[];
}

const TITLES: Partial<Record<ProblemType, string>> = {
  'validation-failed': 'Request failed validation',
  'payload-too-large': 'Request body too large',
  unauthenticated: 'Request is not signed',
  'signature-invalid': 'Request signature is invalid',
  'stale-request': 'Request timestamp is outside the accepted window',
  'replayed-nonce': 'Request nonce was already used',
  forbidden: 'Not authorised',
  'not-found': 'Not found',
  conflict: 'Conflict',
  internal: 'Internal error',
};

export function toProblem(error: CovenantError, instance?: string): Problem {
  return {
    type: problemTypeUri(error.type),
    title: TITLES[error.type] ?? error.type.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase()),
    status: error.status,
    detail: error.message,
    ...(instance ? { instance } : {}),
    ...(error.issues.length > 0 ? { errors: error.issues } : {}),
  };
}

/**
 * A problem lists at most this many issues and counts the rest: one hostile body can
 * provoke an issue per key or per byte, and the answer must stay small and cheap.
 */
export const MAX_LISTED_ISSUES = 20;
/** Longest field path or message listed; both can echo attacker-chosen keys. */
const MAX_ISSUE_TEXT = 160;
/** Longest `detail` of a validation problem (it repeats the listed issues). */
const MAX_VALIDATION_DETAIL = 1024;

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * The validation-failed error for `issues`, consumed lazily: the first
 * MAX_LISTED_ISSUES are listed (each clipped), the others only counted.
 */
export function validationFailed(issues: Iterable<FieldIssue>): CovenantError {
  const listed: FieldIssue[] = [];
  let total = 0;
  for (const issue of issues) {
    total += 1;
    if (listed.length < MAX_LISTED_ISSUES) listed.push({ field: clip(issue.field, MAX_ISSUE_TEXT), message: clip(issue.message, MAX_ISSUE_TEXT) });
  }
  const more = total - listed.length;
  const summary = listed.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
  const detail = clip(summary, MAX_VALIDATION_DETAIL) + (more > 0 ? `; and ${more.toLocaleString('en-US')} more` : '');
  return new CovenantError('validation-failed', detail, { issues: listed });
}

/** Fastify's schema issues as ours, one per unknown key of a strict object. */
function* zodIssues(validation: readonly ZodFastifySchemaValidationError[], where: string): Generator<FieldIssue> {
  for (const issue of validation) {
    const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const field = path ? `${where}.${path}` : where;
    // A strict object's unknown keys: name each one as the offending field.
    const keys = (issue.params as { keys?: unknown } | undefined)?.keys;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys) && keys.length > 0) {
      for (const key of keys) yield { field: `${field}.${String(key)}`, message: 'is not a known field' };
    } else {
      yield { field, message: issue.message ?? 'is invalid' };
    }
  }
}

/** Maps fastify's own errors (parsing, limits, schema validation) onto our typed ones. */
function classify(error: FastifyError, request: FastifyRequest): CovenantError {
  if (error instanceof CovenantError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'body';
    return validationFailed(zodIssues(error.validation, where));
  }
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return new CovenantError('bad-request', 'the request URL is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new CovenantError('bad-request', 'a path parameter of the request URL is too long');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CovenantError('payload-too-large', 'request body exceeds the configured limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new CovenantError('unsupported-media-type', `request body of type ${JSON.stringify(request.headers['content-type'] ?? '')} is not accepted here (the API takes application/json; attestation evidence application/vnd.covenant.attestation+json)`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new CovenantError('bad-request', 'request body is empty but declared as JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new CovenantError('bad-request', 'content-length does not match the body');
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new CovenantError('bad-request', error.message);
  }
  return new CovenantError('internal', 'internal error; see the server log');
}

/**
 * Refuses U+0000 anywhere in the path parameters, query and body. No name or text
 * the API stores may contain it, and PostgreSQL text cannot hold it at all: without
 * this check the same request would be stored on SQLite and fail on PostgreSQL.
 * Iterative, so a deeply nested body cannot exhaust the stack. A raw body (bytes a
 * route parses itself, such as attestation evidence) is that route's to judge.
 */
export function rejectNulCharacters(request: FastifyRequest): void {
  const stack: [string, unknown][] = [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ];
  const issues: FieldIssue[] = [];
  while (stack.length > 0 && issues.length < 10) {
    const [field, value] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) issues.push({ field, message: 'must not contain the NUL character (U+0000)' });
    } else if (value instanceof Uint8Array) {
      continue;
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push([`${field}.${i}`, item]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const path = `${field}.${key}`;
        if (key.includes('\u0000')) issues.push({ field: path, message: 'must not contain the NUL character (U+0000)' });
        stack.push([path, item]);
      }
    }
  }
  if (issues.length > 0) throw validationFailed(issues);
}

export function problemHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Not a problem: the change was accepted as a proposal and waits for approvals.
  if (error instanceof ProposalPending) return reply.code(202).send({ status: 'pending', proposal: error.proposal });
  const typed = classify(error, request);
  // A store fault fails every request until fixed: only the first of each minute logs it.
  if (typed.status >= 500 && !(typed instanceof StoreUnavailable && !typed.report)) request.log.error({ err: error }, 'request failed');
  if (typed instanceof RateLimited || typed instanceof StoreUnavailable) reply.header('retry-after', String(typed.retryAfterSeconds));
  return reply.code(typed.status).type('application/problem+json').send(toProblem(typed, request.url.split('?')[0]));
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const error = new CovenantError('not-found', `no route ${request.method} ${request.url.split('?')[0]}`);
  return reply.code(404).type('application/problem+json').send(toProblem(error));
}
