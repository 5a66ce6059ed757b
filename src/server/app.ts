import type { ServerOptions as HttpServerOptions } from 'node:http';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AttestationService } from '../app/attestation.js';
import type { TokenKeyRing } from '../app/token-key-ring.js';
import type { VerificationMaterial } from '../app/verification-material.js';
import type { ControlPlane } from '../app/control-plane.js';
import type { KeyBroker } from '../keys/broker.js';
import { CovenantError } from '../core/errors.js';
import { normalizeAuthority } from '../ceremony/signed-request.js';
import { Admission, type AdmissionLimits } from './admission.js';
import { authenticate } from './auth.js';
import type { Metrics } from './metrics.js';
import { notFoundHandler, problemHandler, rejectNulCharacters } from './problem.js';
import { longestLifetimeSeconds } from '../verifier/token-lifetime.js';
import { publishedTokenKeys, type KeyRotation } from '../verifier/token-keys.js';
import { attestationRoutes } from './routes/attestation.js';
import { auditRoutes } from './routes/audit.js';
import { ceremonyRoutes } from './routes/ceremony.js';
import { anchorRoutes } from './routes/anchors.js';
import { collateralRoutes } from './routes/collateral.js';
import { evidenceRoutes } from './routes/evidence.js';
import { healthRoutes } from './routes/health.js';
import { kbsRoutes } from './routes/kbs.js';
import { secretRoutes } from './routes/secrets.js';
import { memberRoutes } from './routes/members.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { tokenRoutes } from './routes/tokens.js';
import { wellKnownRoutes } from './routes/well-known.js';
import { workloadRoutes } from './routes/workloads.js';

export interface ServerOptions {
  readonly cp: ControlPlane;
  readonly tenant: string;
  readonly metrics: Metrics;
  /** Largest accepted request body, bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Replay window of signed requests, seconds (default 300). */
  readonly signatureWindowSeconds?: number;
  readonly logger?: FastifyServerOptions['logger'];
  readonly version: string;
  /**
   * Keys that sign (and signed) attestation result tokens, served at /.well-known/jwks.json:
   * fixed, or the tenant's ring, which `POST /v1/token-keys/rotations` rotates.
   */
  readonly tokenKeys: readonly KeyRotation[] | TokenKeyRing;
  /** Token lifetime before jitter (default 600 s): how long a retired key stays published. */
  readonly tokenLifetimeSeconds?: number;
  /** Challenge-response attestation; without it the /challenge-response routes are absent. */
  readonly attestation?: AttestationService;
  /** Limits on attesters (429 beyond them); absent means none, as in the benchmark. */
  readonly admission?: AdmissionLimits;
  /** The key broker; without it the /kbs and /v1/secrets routes are absent. */
  readonly keyBroker?: KeyBroker;
  /** What the verifiers use beside the evidence: imported collateral and added trust anchors, told of each change. */
  readonly material?: VerificationMaterial;
  /**
   * Authorities (host[:port], as clients address this deployment) that signed requests
   * must name in their covered `@authority`; absent, each request's Host is taken.
   */
  readonly authorities?: readonly string[];
  /** Connection timeouts (defaults in DEFAULT_TIMEOUTS). */
  readonly timeouts?: Partial<ServerTimeouts>;
}

/**
 * How long a connection may keep the server's resources without progress, ms. Node's
 * defaults leave idle and slow-header connections open for minutes (issue 13), so a
 * client could hold hundreds of sockets for free.
 */
export interface ServerTimeouts {
  /** From connection (or the end of the previous request) to the last header line. */
  readonly headers: number;
  /** From connection to the whole request received, body included. */
  readonly request: number;
  /** An idle keep-alive connection between requests. */
  readonly keepAlive: number;
  /** Any connection without socket activity, whatever it is doing. */
  readonly idle: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = { headers: 10_000, request: 30_000, keepAlive: 5_000, idle: 60_000 };

/** How often Node looks for expired header and request timers (its default, 30 s, would quadruple a 10 s limit). */
const MAX_CHECK_INTERVAL_MS = 1_000;

/** The server options that enforce `timeouts`, refusing settings Node would refuse or treat as "never". */
export function timeoutOptions(timeouts: Partial<ServerTimeouts> = {}): {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  http: HttpServerOptions;
} {
  const t = { ...DEFAULT_TIMEOUTS, ...timeouts };
  for (const [name, value] of Object.entries(t)) {
    // 0 means "no timeout" to Node: exactly what these limits exist to prevent.
    if (!Number.isSafeInteger(value) || value <= 0) throw new CovenantError('validation-failed', `timeouts.${name} must be a positive integer of milliseconds`);
  }
  if (t.headers > t.request) throw new CovenantError('validation-failed', 'timeouts.headers must not exceed timeouts.request');
  return {
    connectionTimeout: t.idle,
    keepAliveTimeout: t.keepAlive,
    requestTimeout: t.request,
    http: {
      headersTimeout: t.headers,
      requestTimeout: t.request,
      keepAliveTimeout: t.keepAlive,
      connectionsCheckingInterval: Math.max(1, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(t.headers / 4))),
    },
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Called by TEE instances or relying parties, whose evidence or token is their
     * credential: no member signature.
     */
    unsigned?: boolean;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Longest path parameter the router matches, percent-encoded (bigger ones are 400s). */
const MAX_PARAM_LENGTH = 1024;

/**
 * Most members and elements a JSON body may have. The largest the API takes has a few
 * hundred; a megabyte of distinct keys costs V8 half a second to parse (and the schema
 * as long again to refuse), so an anonymous client could stall the event loop with a
 * handful of requests (issue 13). Counted on the raw bytes, before parsing.
 */
export const MAX_JSON_MEMBERS = 4096;

/**
 * Whether `raw` has more than `limit` members and elements: a linear scan counting the
 * commas outside strings (one per member or element beyond the first of each
 * container), stopping as soon as the limit is passed. Malformed JSON is left to the parser.
 */
export function exceedsJsonMembers(raw: Uint8Array, limit: number): boolean {
  let separators = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i += 1) {
    const byte = raw[i];
    if (inString) {
      if (byte === 0x5c) i += 1; // backslash: the next byte is escaped
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x2c && ++separators > limit) {
      return true;
    }
  }
  return false;
}

/** Signatures, nonces and keys never reach a log line. */
export const REDACTED_PATHS = ['req.headers.signature', 'req.headers["signature-input"]', 'req.headers.authorization', 'req.headers.cookie'];

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { cp, tenant, metrics } = options;
  const authorities = options.authorities?.map((authority) => normalizeAuthority(authority, 'validation-failed'));
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    ...timeoutOptions(options.timeouts),
    // Workload names contain '/', sent percent-encoded inside one path segment. The
    // router's default limit (100 characters, counted percent-encoded) is shorter than
    // a valid 128-character workload name; the route schemas bound what gets through.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    // Malformed percent-encoding and over-long parameters are refused before routing;
    // they are answered as problem documents like every other error.
    frameworkErrors: (error, request, reply) => problemHandler(error, request, reply),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(problemHandler);
  app.setNotFoundHandler(notFoundHandler);

  // JSON only: fastify's built-in text/plain parser would hand a string to the routes.
  app.removeContentTypeParser('text/plain');
  // Keep the exact bytes: the request signature's Content-Digest covers them.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    if (exceedsJsonMembers(raw, MAX_JSON_MEMBERS)) {
      return done(new CovenantError('payload-too-large', `request body has more than ${MAX_JSON_MEMBERS.toLocaleString('en-US')} JSON members and elements`));
    }
    parseJson(request, raw.toString('utf8'), (error, value) => {
      if (error) return done(new CovenantError('bad-request', `request body is not valid JSON: ${error.message}`));
      done(null, value);
    });
  });

  app.addHook('preValidation', async (request) => {
    // An unknown route is a 404 whoever asks; no nonce is spent on it.
    if (!MUTATING.has(request.method) || request.is404 || request.routeOptions.config.unsigned === true) return;
    request.signer = await authenticate(request, tenant, {
      store: cp.store,
      clock: cp.clock,
      windowSeconds: options.signatureWindowSeconds ?? 300,
      ...(authorities === undefined ? {} : { authorities }),
    });
  });

  // After schema validation, so type errors are reported first.
  app.addHook('preHandler', async (request) => {
    if (!request.is404) rejectNulCharacters(request);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Covenant control plane',
        version: options.version,
        description:
          'Mutating requests are signed by a member key (HTTP Message Signatures, RFC 9421, over @method @authority @path @query content-digest with created, nonce, keyid and alg). Errors are RFC 9457 problem+json.',
      },
    },
    transform: jsonSchemaTransform,
  });

  const context = { cp, tenant };
  healthRoutes(app, { ...context, metrics });
  workloadRoutes(app, context);
  memberRoutes(app, context);
  rolloutRoutes(app, { ...context, metrics });
  // What an approval executed is seen at once, as after a direct change: collateral or an
  // anchor by the next verification, a rotated token key by the next token.
  const ring = Array.isArray(options.tokenKeys) ? undefined : (options.tokenKeys as TokenKeyRing);
  ceremonyRoutes(app, {
    ...context,
    onExecuted: () => {
      options.material?.invalidate();
      ring?.invalidate();
    },
  });
  auditRoutes(app, context);
  evidenceRoutes(app, context);
  const verificationMaterial = options.material === undefined ? {} : { cache: options.material };
  collateralRoutes(app, { ...context, ...verificationMaterial });
  anchorRoutes(app, { ...context, ...verificationMaterial });
  const jwks = await publishedTokenKeys(options.tokenKeys, cp.clock, longestLifetimeSeconds(options.tokenLifetimeSeconds));
  wellKnownRoutes(app, { jwks });
  tokenRoutes(app, { ...context, jwks, ...('jwks' in options.tokenKeys ? { ring: options.tokenKeys } : {}) });
  if (options.attestation) {
    attestationRoutes(app, {
      attestation: options.attestation,
      ...(options.admission === undefined ? {} : { admission: new Admission(options.admission, cp.clock) }),
    });
  }
  if (options.keyBroker) {
    secretRoutes(app, { ...context, broker: options.keyBroker });
    kbsRoutes(app, {
      broker: options.keyBroker,
      metrics,
      jwks,
      ...(options.admission === undefined ? {} : { admission: new Admission(options.admission, cp.clock) }),
    });
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
