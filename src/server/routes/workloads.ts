import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CovenantError } from '../../core/errors.js';
import type { PolicyVersion, Release } from '../../core/model.js';
import { RegisterRelease, UpdatePolicy } from '../../policy/schemas.js';
import { createWorkload, registerRelease, updatePolicy } from '../../policy/commands.js';
import { diffPolicies } from '../../policy/diff.js';
import {
  currentPolicy,
  findRelease,
  listReleases,
  listWorkloads,
  policyAt,
  policyById,
  policyHistory,
  requireWorkload,
} from '../../policy/queries.js';
import { signerOf, typed, type RouteContext } from '../context.js';

const workloadParams = z.strictObject({ workload: z.string().min(1).max(128) });

export const releaseView = (release: Release) => ({
  workload: release.document.workload,
  version: release.document.version,
  digest: release.digest,
  status: release.status,
  createdAt: release.createdAt,
  securityVersion: release.document.securityVersion,
  references: release.document.references,
  config: release.document.config,
  ...(release.document.sbom ? { sbom: release.document.sbom } : {}),
  ...(release.document.provenance ? { provenance: release.document.provenance } : {}),
});

export const policyView = (policy: PolicyVersion) => ({ id: policy.id, ...policy.document });

export function workloadRoutes(app: FastifyInstance, { cp, tenant }: RouteContext): void {
  const api = typed(app);
  const tags = ['workloads'];

  api.get('/v1/workloads', { schema: { tags, summary: 'List workloads' } }, async () => ({
    workloads: await listWorkloads(cp.store.db, tenant),
  }));

  api.post(
    '/v1/workloads',
    { schema: { tags, summary: 'Create a workload (a stable identity)', body: z.strictObject({ name: z.string().min(1).max(128) }) } },
    async (request, reply) => {
      const workload = await cp.execute(tenant, createWorkload(signerOf(request), request.body.name));
      return reply.code(201).send(workload);
    },
  );

  api.get('/v1/workloads/:workload', { schema: { tags, summary: 'Show a workload', params: workloadParams } }, async (request) => {
    const workload = await requireWorkload(cp.store.db, tenant, request.params.workload);
    const policy = await currentPolicy(cp.store.db, tenant, workload.name);
    const releases = await listReleases(cp.store.db, tenant, workload.name);
    return { ...workload, policy: policy?.id ?? null, releases: releases.map((r) => ({ version: r.document.version, status: r.status })) };
  });

  api.post(
    '/v1/workloads/:workload/releases',
    { schema: { tags, summary: 'Register a release with its reference values', params: workloadParams, body: RegisterRelease } },
    async (request, reply) => {
      const release = await cp.execute(tenant, registerRelease(signerOf(request), request.params.workload, request.body));
      return reply.code(201).send(releaseView(release));
    },
  );

  api.get('/v1/workloads/:workload/releases', { schema: { tags, summary: 'List releases', params: workloadParams } }, async (request) => {
    await requireWorkload(cp.store.db, tenant, request.params.workload);
    return { releases: (await listReleases(cp.store.db, tenant, request.params.workload)).map(releaseView) };
  });

  api.get(
    '/v1/workloads/:workload/releases/:version',
    { schema: { tags, summary: 'Show a release', params: z.strictObject({ workload: z.string().min(1).max(128), version: z.string().min(1).max(64) }) } },
    async (request) => {
      const { workload, version } = request.params;
      await requireWorkload(cp.store.db, tenant, workload);
      const release = await findRelease(cp.store.db, tenant, workload, version);
      if (!release) throw new CovenantError('not-found', `workload ${workload} has no release ${version}`);
      return releaseView(release);
    },
  );

  api.post(
    '/v1/workloads/:workload/policy',
    { schema: { tags, summary: 'Create the next policy version', params: workloadParams, body: UpdatePolicy } },
    async (request, reply) => {
      const version = await cp.execute(tenant, updatePolicy(signerOf(request), request.params.workload, request.body));
      return reply.code(201).send(policyView(version));
    },
  );

  api.get(
    '/v1/workloads/:workload/policy',
    {
      schema: {
        tags,
        summary: 'Show the policy version in force, or a given one',
        params: workloadParams,
        querystring: z.strictObject({ version: z.string().max(64).optional() }),
      },
    },
    async (request) => {
      const { workload } = request.params;
      await requireWorkload(cp.store.db, tenant, workload);
      if (request.query.version !== undefined) return policyView(await policyById(cp.store.db, tenant, workload, request.query.version));
      const policy = await currentPolicy(cp.store.db, tenant, workload);
      if (!policy) throw new CovenantError('not-found', `workload ${workload} has no policy yet`);
      return policyView(policy);
    },
  );

  api.get('/v1/workloads/:workload/policy/history', { schema: { tags, summary: 'All policy versions, oldest first', params: workloadParams } }, async (request) => {
    await requireWorkload(cp.store.db, tenant, request.params.workload);
    return { versions: (await policyHistory(cp.store.db, tenant, request.params.workload)).map(policyView) };
  });

  api.get(
    '/v1/workloads/:workload/policy/diff',
    {
      schema: {
        tags,
        summary: 'Differences between two policy versions',
        params: workloadParams,
        querystring: z.strictObject({ from: z.string().min(1).max(64), to: z.string().min(1).max(64) }),
      },
    },
    async (request) => {
      const { workload } = request.params;
      await requireWorkload(cp.store.db, tenant, workload);
      const from = await policyById(cp.store.db, tenant, workload, request.query.from);
      const to = await policyById(cp.store.db, tenant, workload, request.query.to);
      return { from: from.id, to: to.id, diff: diffPolicies(from.document, to.document) };
    },
  );

  api.get(
    '/v1/workloads/:workload/policy/at',
    {
      schema: {
        tags,
        summary: 'The policy version in force at a time',
        params: workloadParams,
        querystring: z.strictObject({ time: z.iso.datetime({ offset: true }) }),
      },
    },
    async (request) => {
      const { workload } = request.params;
      await requireWorkload(cp.store.db, tenant, workload);
      const policy = await policyAt(cp.store.db, tenant, workload, new Date(request.query.time));
      if (!policy) throw new CovenantError('not-found', `workload ${workload} had no policy at ${request.query.time}`);
      return policyView(policy);
    },
  );
}
