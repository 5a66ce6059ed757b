import type { FastifyInstance } from 'fastify';
import { base64url } from 'jose';
import { z } from 'zod';
import type { AttestationService } from '../../app/attestation.js';
import { CovenantError } from '../../core/errors.js';
import { ATTESTATION_MEDIA_TYPE } from '../../verifier/envelope.js';
import type { AttestationSession } from '../../verifier/session.js';
import type { Admission } from '../admission.js';
import { signerOf, typed } from '../context.js';
import { UpdatePolicy } from '../../policy/schemas.js';

/**
 * The Veraison challenge-response API (shared/reference formats A.2), for TEE
 * instances rather than members: these routes carry no member signature — the
 * evidence is the credential — so they are marked `unsigned` for the auth hook.
 */
export const SESSION_MEDIA_TYPE = 'application/vnd.veraison.challenge-response-session+json';

const sessionParams = z.strictObject({ id: z.string().min(1).max(600) });

const NewSessionQuery = z
  .strictObject({
    workload: z.string().min(1).max(128),
    nonce: z
      .string()
      .max(128)
      .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding')
      .optional(),
    nonceSize: z.coerce.number().int().min(8).max(64).optional(),
  })
  .refine((query) => query.nonce === undefined || query.nonceSize === undefined, { message: 'give nonce or nonceSize, not both', path: ['nonce'] });

const DryRunBody = z
  .strictObject({
    version: z.string().min(1).max(64).optional(),
    // A dry run records nothing, so it needs no reason.
    update: UpdatePolicy.partial({ reason: true }).optional(),
  })
  .refine((body) => (body.version === undefined) !== (body.update === undefined), { message: 'give either version or update', path: ['version'] });

export function attestationRoutes(app: FastifyInstance, { attestation, admission }: { attestation: AttestationService; admission?: Admission }): void {
  const api = typed(app);
  const tags = ['attestation'];
  const config = { unsigned: true };

  const sessionView = (session: AttestationSession, status: string) => ({
    status,
    nonce: base64url.encode(session.nonce),
    expiry: session.expiresAt.toISOString(),
    accept: [ATTESTATION_MEDIA_TYPE],
    workload: session.workload,
    evidenceTypes: attestation.evidenceTypes,
  });

  api.post(
    '/challenge-response/v1/newSession',
    { config, schema: { tags, summary: 'Start an attestation session: a single-use nonce for one workload', querystring: NewSessionQuery } },
    async (request, reply) => {
      const { workload, nonce, nonceSize } = request.query;
      admission?.admitSession();
      const session = await attestation.newSession(workload, {
        ...(nonce === undefined ? {} : { nonce: base64url.decode(nonce) }),
        ...(nonceSize === undefined ? {} : { nonceBytes: nonceSize }),
      });
      return reply
        .code(201)
        .header('location', `session/${session.token}`)
        .type(SESSION_MEDIA_TYPE)
        .send(sessionView(session, 'waiting'));
    },
  );

  // The evidence route alone takes the attestation media type, in a scope of its own:
  // registered on the whole app, every route would accept a raw body that its schema
  // then walks byte by byte (issue 13), and unsigned routes would ledger it. Elsewhere
  // the type is refused with 415 before the body is read. The document is parsed by
  // the service (it is untrusted bytes, fuzzed there), so the route takes it raw —
  // kept as rawBody too, so that a signature's Content-Digest would bind these bytes.
  void app.register(async (evidence) => {
    evidence.addContentTypeParser(ATTESTATION_MEDIA_TYPE, { parseAs: 'buffer' }, (request, body, done) => {
      request.rawBody = body as Buffer;
      done(null, body);
    });

    typed(evidence).post(
      '/challenge-response/v1/session/:id',
      { config, schema: { tags, summary: 'Submit evidence to a session; returns the attestation result (EAR)', params: sessionParams } },
      async (request, reply) => {
        const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
        if (contentType !== ATTESTATION_MEDIA_TYPE || !Buffer.isBuffer(request.body)) {
          throw new CovenantError('unsupported-media-type', `evidence must be posted as ${ATTESTATION_MEDIA_TYPE}`);
        }
        const body = request.body;
        const attest = () => attestation.attest(request.params.id, body, ATTESTATION_MEDIA_TYPE);
        const attested = await (admission === undefined ? attest() : admission.withinFlight(attest));
        return reply.type(SESSION_MEDIA_TYPE).send({
          ...sessionView(attested.session, 'complete'),
          evidence: { type: attested.envelope.evidenceType, value: Buffer.from(attested.envelope.evidence).toString('base64') },
          result: attested.token,
          appraisal: {
            instance: attested.instance,
            status: attested.appraisal.status,
            policy: attested.appraisal.policyId,
            ...(attested.appraisal.matchedRelease === undefined ? {} : { release: attested.appraisal.matchedRelease }),
            reasons: attested.appraisal.reasons,
            ...(attested.devices.length === 0
              ? {}
              : { devices: attested.devices.map((device) => ({ status: device.status, ...(device.matchedRelease === undefined ? {} : { release: device.matchedRelease }), reasons: device.reasons })) }),
          },
        });
      },
    );
  });

  api.post(
    '/v1/workloads/:workload/policy/dry-run',
    {
      schema: {
        tags: ['workloads'],
        summary: 'Re-appraise every known instance against a candidate policy, changing nothing',
        params: z.strictObject({ workload: z.string().min(1).max(128) }),
        body: DryRunBody,
      },
    },
    async (request) => {
      const { version, update } = request.body;
      return attestation.dryRun(
        request.params.workload,
        version !== undefined ? { version } : { update: { ...update, reason: update?.reason ?? 'dry run' }, actor: `member:${signerOf(request)}` },
      );
    },
  );

  api.get('/challenge-response/v1/session/:id', { config, schema: { tags, summary: 'Show a session', params: sessionParams } }, async (request, reply) => {
    const { session, status } = await attestation.status(request.params.id);
    return reply.type(SESSION_MEDIA_TYPE).send(sessionView(session, status));
  });

  api.delete('/challenge-response/v1/session/:id', { config, schema: { tags, summary: 'Discard a session (its nonce is spent)', params: sessionParams } }, async (request, reply) => {
    await attestation.discard(request.params.id);
    return reply.code(204).send();
  });
}
