import type { JsonWebKey } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CovenantError } from '../../core/errors.js';
import { KBS_COOKIE, type KeyBroker } from '../../keys/broker.js';
import { KBS_ERROR_BASE, KbsError } from '../../keys/refusals.js';
import type { PublishedJwks } from '../../verifier/token-keys.js';
import { RateLimited, type Admission } from '../admission.js';
import type { Metrics } from '../metrics.js';
import { problemHandler } from '../problem.js';

/**
 * The KBS RCAR protocol (shared/reference formats A.1) for TEE instances: no member
 * signature — the evidence, then the result token bound to the attested key, is the
 * credential. Errors are RFC 7807 documents with the KBS error type URIs, plus
 * `status`, `title` and, for refusals the broker records, the `reason` code of the
 * ledger entry.
 */

/** A KBS message is small; the attestation carries the evidence (sim: a few KiB). */
const AUTH_BODY_LIMIT = 16 * 1024;
const ATTEST_BODY_LIMIT = 64 * 1024;

export interface KbsProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly reason?: string;
}

/**
 * Renders refusals in the KBS protocol's words and counts each by its reason code: the
 * count is the only trace of a refusal whose sender was never authenticated (a spent
 * session, a token that no longer holds), which the broker does not ledger.
 */
const kbsProblemHandler =
  (metrics: Metrics) =>
  (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    // Server failures and rate limits keep Covenant's own problem documents (and Retry-After).
    if (error instanceof RateLimited) return problemHandler(error, request, reply);
    let kbs: KbsError;
    let status: number;
    if (error instanceof KbsError) [kbs, status] = [error, error.status];
    else {
      status = error instanceof CovenantError ? error.status : typeof error.statusCode === 'number' ? error.statusCode : 500;
      if (status >= 500) return problemHandler(error, request, reply);
      kbs = new KbsError('InvalidRequest', error.message);
    }
    // Reason codes and KBS error names are closed sets: the label stays small.
    metrics.refusals.inc({ endpoint: 'kbs', reason: kbs.reason ?? kbs.kbsName });
    return sendKbs(reply, kbs, status);
  };

function sendKbs(reply: FastifyReply, error: KbsError, status: number): FastifyReply {
  const body: KbsProblem = {
    type: `${KBS_ERROR_BASE}${error.kbsName}`,
    title: error.kbsName,
    status,
    detail: error.message,
    ...(error.reason === undefined ? {} : { reason: error.reason }),
  };
  return reply.code(status).type('application/problem+json').send(body);
}

/** The `kbs-session-id` cookie of a request, if it carries exactly one. */
function sessionCookie(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 16_384) return undefined;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${KBS_COOKIE}=`))
    .map((part) => part.slice(KBS_COOKIE.length + 1));
  return values.length === 1 && values[0] !== '' ? values[0] : undefined;
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
  if (match === null) throw new KbsError('TokenNotFound', 'the Authorization header is not "Bearer <token>"');
  return match[1];
}

export function kbsRoutes(
  app: FastifyInstance,
  { broker, jwks, admission, metrics }: { readonly broker: KeyBroker; readonly jwks: () => PublishedJwks; readonly admission?: Admission; readonly metrics: Metrics },
): void {
  void app.register(async (kbs) => {
    kbs.setErrorHandler(kbsProblemHandler(metrics));
    const config = { unsigned: true };
    const tags = ['kbs'];
    const cookie = (value: string, maxAgeSeconds?: number): string =>
      `${KBS_COOKIE}=${value}; Path=/kbs/v0; HttpOnly; SameSite=Strict${maxAgeSeconds === undefined ? '' : `; Max-Age=${maxAgeSeconds}`}`;

    kbs.post('/kbs/v0/auth', { config, bodyLimit: AUTH_BODY_LIMIT, schema: { tags, summary: 'KBS: request a challenge for a TEE of a workload' } }, async (request, reply) => {
      admission?.admitSession();
      const { challenge, cookie: session } = await broker.auth(request.body);
      return reply.header('set-cookie', cookie(session)).send(challenge);
    });

    kbs.post('/kbs/v0/attest', { config, bodyLimit: ATTEST_BODY_LIMIT, schema: { tags, summary: 'KBS: attest with evidence over the runtime data; returns the result token' } }, async (request, reply) => {
      const raw = request.rawBody;
      if (raw === undefined || raw.length === 0) throw new KbsError('InvalidRequest', 'the attestation message is empty');
      const attest = () => broker.attest(sessionCookie(request.headers.cookie), raw);
      const { token, maxAgeSeconds } = await (admission === undefined ? attest() : admission.withinFlight(attest));
      return reply.header('set-cookie', cookie(token, maxAgeSeconds)).send({ token });
    });

    // No HEAD twin: every GET is a recorded release or refusal, and a HEAD would record one it never delivers.
    kbs.get('/kbs/v0/resource/*', { config, exposeHeadRoute: false, schema: { tags, summary: 'KBS: a resource, as a JWE encrypted to the attested TEE key' } }, async (request, reply) => {
      const path = (request.params as { '*': string })['*'];
      const query = request.query as Record<string, unknown>;
      const unknown = Object.keys(query).filter((key) => key !== 'version');
      if (unknown.length > 0) throw new KbsError('InvalidRequest', `unknown query parameter(s): ${unknown.map((k) => JSON.stringify(k.slice(0, 32))).join(', ')}`);
      if (query['version'] !== undefined && typeof query['version'] !== 'string') throw new KbsError('InvalidRequest', 'give version once');
      const bearer = bearerToken(request.headers.authorization);
      const session = sessionCookie(request.headers.cookie);
      const keys = { keys: jwks().keys.map((key): JsonWebKey => ({ ...key })) };
      const response = await broker.resource(path, query['version'] as string | undefined, { ...(bearer === undefined ? {} : { bearer }), ...(session === undefined ? {} : { cookie: session }) }, keys);
      return reply.header('cache-control', 'no-store').send(response);
    });

    kbs.all('/kbs/v0/*', { config, schema: { hide: true } }, async (request) => {
      throw new KbsError('InvalidRequestPath', `no KBS endpoint ${request.method} ${request.url.split('?')[0]}`);
    });
  });
}
