import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CovenantError } from '../../core/errors.js';
import type { GateEvaluation, Rollout } from '../../core/rollout.js';
import { StartRollout } from '../../rollout/schemas.js';
import { currentPolicy, releasesByVersion, requireWorkload } from '../../policy/queries.js';
import {
  advanceRollout,
  completeRollout,
  gateNow,
  queryGate,
  revokeRelease,
  rollbackRollout,
  signalHealth,
  startRollout,
  type RolloutTransition,
} from '../../rollout/commands.js';
import { complianceReport } from '../../rollout/compliance.js';
import { FLAGGER_HOOKS, type GateQuestion } from '../../rollout/integrations.js';
import { fleetCounts, instancesOn, latestRollout, rolloutHistory } from '../../rollout/queries.js';
import { signerOf, typed, type RouteContext } from '../context.js';
import { toProblem } from '../problem.js';
import { policyView } from './workloads.js';

const workloadParams = z.strictObject({ workload: z.string().min(1).max(128) });
const reason = z.string().min(1).max(1024);
const dateTime = z.iso.datetime({ offset: true });

export function rolloutView(rollout: Rollout, now: Date, evaluation?: GateEvaluation) {
  const d = rollout.document;
  return {
    number: d.number,
    workload: d.workload,
    status: rollout.status,
    from: d.from,
    to: d.to,
    waves: d.waves,
    wave: rollout.wave + 1,
    wavePercent: d.waves[rollout.wave] ?? 100,
    waveStartedAt: rollout.waveStartedAt,
    startedAt: d.startedAt,
    actor: d.actor,
    reason: d.reason,
    deadline: d.deadline,
    onDeadline: d.onDeadline,
    secondsLeft: d.deadline === null || rollout.status !== 'active' ? null : Math.floor((Date.parse(d.deadline) - now.getTime()) / 1000),
    raiseFloor: d.raiseFloor,
    gate: d.gate,
    ...(rollout.outcome === undefined ? {} : { outcome: rollout.outcome }),
    ...(evaluation === undefined ? {} : { evaluation }),
  };
}

const transitionView = (transition: RolloutTransition, now: Date) => ({
  rollout: rolloutView(transition.rollout, now, transition.gate),
  ...(transition.policy === undefined ? {} : { policy: policyView(transition.policy) }),
});

const ArgoBody = z
  .object({
    release: z.string().min(1).max(64).optional(),
    rollout: z.string().max(253).optional(),
    namespace: z.string().max(253).optional(),
    image: z.string().max(1024).optional(),
    podTemplateHash: z.string().max(128).optional(),
    step: z.union([z.string().max(64), z.number()]).optional(),
  })
  // Users put what they like into jsonBody; unknown arguments are not an error there.
  .passthrough();

const FlaggerBody = z
  .object({
    name: z.string().max(253),
    namespace: z.string().max(253),
    phase: z.string().max(64),
    checksum: z.string().max(128).optional(),
    metadata: z.record(z.string(), z.string().max(4096)).optional(),
  })
  .passthrough();

export function rolloutRoutes(app: FastifyInstance, { cp, tenant }: RouteContext): void {
  const api = typed(app);
  const tags = ['rollouts'];
  const db = cp.store.db;
  const base = '/v1/workloads/:workload';

  api.post(`${base}/rollout`, { schema: { tags, summary: 'Start a rollout: the policy accepts old ∪ new before any new instance is deployed', params: workloadParams, body: StartRollout } }, async (request, reply) => {
    const transition = await cp.execute(tenant, startRollout(signerOf(request), request.params.workload, request.body));
    return reply.code(201).send(transitionView(transition, cp.clock()));
  });

  api.get(`${base}/rollout`, { schema: { tags, summary: 'The rollout in progress (or the last one), its gate and the fleet by release', params: workloadParams } }, async (request) => {
    const { workload } = request.params;
    await requireWorkload(db, tenant, workload);
    const now = cp.clock();
    const rollout = await latestRollout(db, tenant, workload);
    const evaluation = rollout?.status === 'active' ? await gateNow(db, tenant, rollout, now) : undefined;
    return { rollout: rollout === undefined ? null : rolloutView(rollout, now, evaluation), fleet: await fleetCounts(db, tenant, workload), at: now.toISOString() };
  });

  api.get(`${base}/rollouts`, { schema: { tags, summary: 'Every rollout of the workload, oldest first', params: workloadParams } }, async (request) => {
    await requireWorkload(db, tenant, request.params.workload);
    const now = cp.clock();
    return { rollouts: (await rolloutHistory(db, tenant, request.params.workload)).map((rollout) => rolloutView(rollout, now)) };
  });

  api.post(
    `${base}/rollout/advance`,
    { schema: { tags, summary: 'End the current wave: the next one, or completion after the last', params: workloadParams, body: z.strictObject({ wave: z.number().int().min(1).max(20).optional(), reason: reason.optional() }) } },
    async (request) => {
      const { wave, reason: why } = request.body;
      const transition = await cp.execute(tenant, advanceRollout(signerOf(request), request.params.workload, { ...(wave === undefined ? {} : { expectedWave: wave - 1 }), ...(why === undefined ? {} : { reason: why }) }));
      return transitionView(transition, cp.clock());
    },
  );

  api.post(`${base}/rollout/complete`, { schema: { tags, summary: 'Complete the rollout: the new release alone is accepted', params: workloadParams, body: z.strictObject({ reason }) } }, async (request) => {
    const transition = await cp.execute(tenant, completeRollout(signerOf(request), request.params.workload, request.body.reason));
    return transitionView(transition, cp.clock());
  });

  api.post(`${base}/rollout/rollback`, { schema: { tags, summary: 'Roll back: the old releases alone are accepted', params: workloadParams, body: z.strictObject({ reason }) } }, async (request) => {
    const transition = await cp.execute(tenant, rollbackRollout(signerOf(request), request.params.workload, request.body.reason));
    return transitionView(transition, cp.clock());
  });

  api.post(
    `${base}/health`,
    { schema: { tags, summary: 'Record an external health signal for rollout gates', params: workloadParams, body: z.strictObject({ source: z.string().min(1).max(64), healthy: z.boolean(), detail: z.string().max(512).optional() }) } },
    async (request, reply) => reply.code(201).send(await cp.execute(tenant, signalHealth(signerOf(request), request.params.workload, request.body))),
  );

  api.post(
    `${base}/releases/:version/revoke`,
    {
      schema: {
        tags,
        summary: 'Revoke a release: refused at once, or accepted with a warning until a deadline',
        params: z.strictObject({ workload: z.string().min(1).max(128), version: z.string().min(1).max(64) }),
        body: z.strictObject({ reason, deadline: dateTime.optional() }),
      },
    },
    async (request) => {
      const { workload, version } = request.params;
      const revoked = await cp.execute(tenant, revokeRelease(signerOf(request), workload, { version, ...request.body }));
      return { version: revoked.version, deadline: revoked.deadline, ...(revoked.policy === undefined ? {} : { policy: policyView(revoked.policy) }) };
    },
  );

  api.get(`${base}/fleet`, { schema: { tags: ['fleet'], summary: 'Instances by matched release and latest verdict', params: workloadParams, querystring: z.strictObject({ since: dateTime.optional() }) } }, async (request) => {
    await requireWorkload(db, tenant, request.params.workload);
    return { fleet: await fleetCounts(db, tenant, request.params.workload, request.query.since === undefined ? undefined : new Date(request.query.since).toISOString()) };
  });

  api.get(`${base}/fleet/compliance`, { schema: { tags: ['fleet'], summary: 'Instances still on old or revoked releases, last seen and time left', params: workloadParams } }, async (request) => {
    const { workload } = request.params;
    await requireWorkload(db, tenant, workload);
    const now = cp.clock();
    const releases = await releasesByVersion(db, tenant, workload);
    const report = complianceReport(
      (await currentPolicy(db, tenant, workload))?.document ?? null,
      releases,
      await latestRollout(db, tenant, workload),
      await instancesOn(db, tenant, workload, [...releases.keys(), null]),
      now,
    );
    return { workload, at: now.toISOString(), ...report };
  });

  // Deployment controllers cannot sign requests; they only ask, and every answer is ledgered.
  const config = { unsigned: true };

  api.post(
    `${base}/gates/argo`,
    { config, schema: { tags: ['gates'], summary: 'Argo Rollouts web metric provider: always 200 with a decision', params: workloadParams, body: ArgoBody } },
    async (request) => {
      const { release, podTemplateHash, rollout, step } = request.body;
      const question: GateQuestion = { hook: 'argo', ...(release === undefined ? {} : { release }) };
      const run = [rollout, podTemplateHash, step].filter((part) => part !== undefined).join('/');
      const { result, entries } = await cp.committer.submit(tenant, queryGate(request.params.workload, 'argo', question, run));
      return { decision: { allowed: result.allowed, reason: result.reason, ledgerIndex: entries[0]?.seq ?? null } };
    },
  );

  api.post(
    `${base}/gates/flagger/:hook`,
    {
      config,
      schema: { tags: ['gates'], summary: 'Flagger webhook: 200 to proceed (for `rollback`: to roll back), 412 otherwise', params: z.strictObject({ workload: z.string().min(1).max(128), hook: z.enum(FLAGGER_HOOKS) }), body: FlaggerBody },
    },
    async (request, reply) => {
      const { hook, workload } = request.params;
      const release = request.body.metadata?.release;
      const question: GateQuestion = { hook, ...(release === undefined ? {} : { release }) };
      const run = request.body.checksum ?? `${request.body.namespace}/${request.body.name}`;
      const { result, entries } = await cp.committer.submit(tenant, queryGate(workload, 'flagger', question, run));
      const decision = { allowed: result.allowed, reason: result.reason, ledgerIndex: entries[0]?.seq ?? null };
      if (result.allowed) return decision;
      // Flagger treats any status above 202 as "no", and copies the body into a
      // Kubernetes event: the problem's detail says why, the decision rides along.
      return reply
        .code(412)
        .type('application/problem+json')
        .send({ ...toProblem(new CovenantError('gate-closed', result.reason), request.url), decision });
    },
  );
}
