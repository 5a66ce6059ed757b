import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CovenantError } from '../../core/errors.js';
import type { KeyBroker } from '../../keys/broker.js';
import { changeSecretRules, putSecret, rotateSecret, setMigrationWindow } from '../../keys/commands.js';
import { PHASES } from '../../keys/rules.js';
import { findSecret, listSecrets, secretVersions, type SecretMeta } from '../../keys/queries.js';
import { MAX_SECRET_BYTES } from '../../keys/sealed.js';
import { signerOf, typed, type RouteContext } from '../context.js';

/**
 * Members' routes of the key broker (signed like every mutating route): values go in,
 * metadata and rules come out — no route ever returns a value. A value is sealed under
 * the tenant's KMS here, at the edge, before it becomes a command's argument.
 */
const resourceParams = z.strictObject({ repository: z.string().min(1).max(64), type: z.string().min(1).max(64), tag: z.string().min(1).max(64) });
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const value = z
  .string()
  .min(1)
  .max(Math.ceil(MAX_SECRET_BYTES / 3) * 4)
  .regex(STANDARD_BASE64, 'must be standard base64');

const PutBody = z.strictObject({ value });
const RotateBody = z
  .strictObject({ value: value.optional(), generate: z.int().min(16).max(4096).optional() })
  .refine((body) => (body.value === undefined) !== (body.generate === undefined), { message: 'give value or generate (a byte count), not both', path: ['value'] });
const RuleBody = z.strictObject({
  name: z.string().min(1).max(64),
  workloads: z.array(z.string().min(1).max(128)).min(1).max(64),
  releases: z.array(z.string().min(1).max(64)).min(1).max(64).optional(),
  phases: z.array(z.enum(PHASES)).min(1).max(3).optional(),
  when: z.string().min(1).max(4096).optional(),
  versions: z.union([z.int().min(1).max(1000), z.literal('all')]).optional(),
});
const workloadParams = z.strictObject({ workload: z.string().min(1).max(128) });

const nameOf = (params: z.infer<typeof resourceParams>): string => `${params.repository}/${params.type}/${params.tag}`;

const metaView = (meta: SecretMeta) => ({
  resource: meta.resource,
  latestVersion: meta.latestVersion,
  rulesRevision: meta.rulesRevision,
  rules: meta.rules,
  createdAt: meta.createdAt,
  createdBy: meta.createdBy,
  updatedAt: meta.updatedAt,
});

export function secretRoutes(app: FastifyInstance, { cp, tenant, broker }: RouteContext & { readonly broker: KeyBroker }): void {
  const api = typed(app);
  const tags = ['secrets'];
  const plaintext = (base64: string): Uint8Array => new Uint8Array(Buffer.from(base64, 'base64'));

  api.get('/v1/secrets', { schema: { tags, summary: 'List the key broker’s resources (metadata, never values)' } }, async () => ({
    secrets: (await listSecrets(cp.store.db, tenant)).map(metaView),
  }));

  api.get('/v1/secrets/:repository/:type/:tag', { schema: { tags, summary: 'A resource’s versions and release rules (never its value)', params: resourceParams } }, async (request) => {
    const resource = nameOf(request.params);
    const meta = await findSecret(cp.store.db, tenant, resource);
    if (meta === undefined) throw new CovenantError('not-found', `no secret named ${resource}`);
    return { ...metaView(meta), versions: await secretVersions(cp.store.db, tenant, resource) };
  });

  api.post(
    '/v1/secrets/:repository/:type/:tag',
    { schema: { tags, summary: 'Create a resource with its first version (value in base64)', params: resourceParams, body: PutBody } },
    async (request, reply) => {
      const resource = nameOf(request.params);
      const sealed = await broker.seal(resource, plaintext(request.body.value));
      return reply.code(201).send(await cp.execute(tenant, putSecret(signerOf(request), { resource, sealed })));
    },
  );

  api.post(
    '/v1/secrets/:repository/:type/:tag/versions',
    { schema: { tags, summary: 'Rotate: add a version (a given value, or random bytes made here)', params: resourceParams, body: RotateBody } },
    async (request, reply) => {
      const resource = nameOf(request.params);
      const bytes = request.body.value === undefined ? new Uint8Array(randomBytes(request.body.generate!)) : plaintext(request.body.value);
      try {
        const sealed = await broker.seal(resource, bytes);
        return reply.code(201).send(await cp.execute(tenant, rotateSecret(signerOf(request), { resource, sealed })));
      } finally {
        bytes.fill(0);
      }
    },
  );

  api.post(
    '/v1/secrets/:repository/:type/:tag/rules',
    { schema: { tags, summary: 'Set (add or replace by name) one release rule', params: resourceParams, body: RuleBody } },
    async (request) => cp.execute(tenant, changeSecretRules(signerOf(request), { resource: nameOf(request.params), set: request.body })),
  );

  api.delete(
    '/v1/secrets/:repository/:type/:tag/rules/:name',
    { schema: { tags, summary: 'Drop one release rule', params: resourceParams.extend({ name: z.string().min(1).max(64) }) } },
    async (request) => {
      const { name, ...params } = request.params;
      return cp.execute(tenant, changeSecretRules(signerOf(request), { resource: nameOf(params), drop: name }));
    },
  );

  api.get('/v1/workloads/:workload/sealing', { schema: { tags, summary: 'Sealing-key slots of each accepted release (key ids only) and the migration window', params: workloadParams } }, async (request) =>
    broker.slots(request.params.workload),
  );

  api.post(
    '/v1/workloads/:workload/sealing',
    { schema: { tags, summary: 'Set how long the legacy sealing slot stays open after a rollout completes', params: workloadParams, body: z.strictObject({ migrationWindow: z.union([z.string().min(1).max(16), z.int().min(0)]) }) } },
    async (request) => cp.execute(tenant, setMigrationWindow(signerOf(request), { workload: request.params.workload, migrationWindow: request.body.migrationWindow })),
  );
}
