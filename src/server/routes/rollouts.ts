import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CovenantError } from '../../core/errors.js';
import { LruCache } from '../../core/lru.js';
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
import { roleCheck } from '../../ceremony/command.js';
import { gateSituation, issueGateCredential, latestGateCredential, newGateCredential } from '../../rollout/gate-credentials.js';
import { answerGate, credentialHolds, FLAGGER_CREDENTIAL_KEY, FLAGGER_HOOKS, presentedGateCredential, type GateQuestion } from '../../rollout/integrations.js';
import { fleetCounts, instancesOn, latestRollout, rolloutHistory } from '../../rollout/queries.js';
import { signerOf, typed, type RouteContext } from '../context.js';
import { Admission, RateLimited, type AdmissionLimits } from '../admission.js';
import type { Metrics } from '../metrics.js';
import { toProblem } from '../problem.js';
import { policyView } from './workloads.js';

const workloadParams = z.strictObject({ workload: z.string().min(1).max(128) });
const reason = z.string().min(1).max(1024);
const dateTime = z.iso.datetime({ offset: true });
/** A controller polls every few seconds; this leaves room for several analyses at once. */
const GATE_RATE: AdmissionLimits = Object.freeze({ ratePerSecond: 5, burst: 20, maxInFlight: 1 });

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

export function rolloutRoutes(app: FastifyInstance, { cp, tenant, metrics }: RouteContext & { readonly metrics: Metrics }): void {
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
    return { rollout: rollout === undefined ? null : rolloutView(rollout, now, evaluation), fleet: await fleetCounts(db, tenant, workload, now), at: now.toISOString() };
  });

  api.get(`${base}/rollouts`, { schema: { tags, summary: 'Every rollout of the workload, oldest first', params: workloadParams } }, async (request) => {
    await requireWorkload(db, tenant, request.params.workload);
    const now = cp.clock();
    return { rollouts: (await rolloutHistory(db, tenant, request.params.workload)).map((rollout) => rolloutView(rollout, now)) };
  });

  api.post(
    `${base}/rollout/advance`,
    { schema: { tags, summary: 'End the current wave: the next one, or completion after the last', params: workloadParams, body: z.strictObject({ wave: z.number().int().min(1).max(20).optional(), reason: reason.optional(), force: z.boolean().optional() }) } },
    async (request) => {
      const { wave, reason: why, force } = request.body;
      const transition = await cp.execute(tenant, advanceRollout(signerOf(request), request.params.workload, { ...(wave === undefined ? {} : { expectedWave: wave - 1 }), ...(why === undefined ? {} : { reason: why }), ...(force === undefined ? {} : { force }) }));
      return transitionView(transition, cp.clock());
    },
  );

  api.post(`${base}/rollout/complete`, { schema: { tags, summary: 'Complete the rollout: the new release alone is accepted', params: workloadParams, body: z.strictObject({ reason, force: z.boolean().optional() }) } }, async (request) => {
    const transition = await cp.execute(tenant, completeRollout(signerOf(request), request.params.workload, request.body.reason, { ...(request.body.force === undefined ? {} : { force: request.body.force }) }));
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
    return { fleet: await fleetCounts(db, tenant, request.params.workload, cp.clock(), request.query.since === undefined ? undefined : new Date(request.query.since).toISOString()) };
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

  api.post(
    `${base}/rollout/gate-credential`,
    { schema: { tags: ['gates'], summary: 'Issue the gate credential of the latest rollout for Argo Rollouts and Flagger (shown once; supersedes the previous one)', params: workloadParams, body: z.strictObject({}) } },
    async (request, reply) => {
      // A new credential locks the controllers out until they are given it: it takes the
      // role that starts rollouts, and a refusal is ledgered like any signed command's.
      await cp.execute(tenant, roleCheck(signerOf(request), 'rollout-start', 'rollout.gate-credential'));
      const credential = newGateCredential();
      const issued = await cp.execute(tenant, issueGateCredential(signerOf(request), request.params.workload, credential));
      return reply.code(201).header('cache-control', 'no-store').send({ rollout: issued.rollout, credential });
    },
  );

  // Deployment controllers cannot sign requests: they present the rollout's gate credential.
  const config = { unsigned: true };
  /** Per rollout: a leaked credential buys a bounded rate of reads, nothing more. */
  const buckets = new LruCache<string, Admission>(1024);
  /** The last answer ledgered per rollout, integration, hook and release: only a change is recorded again. */
  const recorded = new LruCache<string, { readonly allowed: boolean; readonly seq: number | null }>(4096);

  /** The rollout whose credential the call presents; refusals are counted, never ledgered. */
  async function admitGate(workload: string, authorization: string | undefined, metadata: Readonly<Record<string, string>> | undefined): Promise<number> {
    const refuse = (reason: string, detail: string): never => {
      metrics.refusals.inc({ endpoint: 'gate', reason });
      throw new CovenantError('unauthenticated', detail);
    };
    const presented = presentedGateCredential(authorization, metadata);
    if (presented === undefined) return refuse('missing-credential', `send the rollout's gate credential as Authorization: Bearer <credential> (Flagger: webhook metadata ${FLAGGER_CREDENTIAL_KEY}); \`covenant rollout gate-token\` issues it`);
    const issued = await latestGateCredential(db, tenant, workload);
    if (issued === undefined || !credentialHolds(presented, issued.digest)) return refuse('wrong-credential', 'this is not the gate credential issued for the workload');
    const latest = await latestRollout(db, tenant, workload);
    if (latest?.document.number !== issued.rollout) return refuse('superseded-credential', `the gate credential is rollout #${issued.rollout}'s; issue one for rollout #${latest?.document.number ?? '?'}`);
    const key = `${workload}\n${issued.rollout}`;
    const bucket = buckets.get(key) ?? new Admission(GATE_RATE, cp.clock);
    buckets.set(key, bucket);
    try {
      bucket.admitSession();
    } catch (error) {
      if (!(error instanceof RateLimited)) throw error;
      metrics.refusals.inc({ endpoint: 'gate', reason: 'rate-limited' });
      throw new RateLimited(`more than ${GATE_RATE.ratePerSecond} gate calls a second for rollout #${issued.rollout}; retry later`, error.retryAfterSeconds);
    }
    return issued.rollout;
  }

  /**
   * The answer, read without writing; it is ledgered (as the spine decides it) only when
   * it differs from the last one recorded for the same question, so a controller
   * polling an unchanged gate adds nothing, and every change it acted on is on record.
   */
  async function answer(workload: string, rollout: number, integration: 'argo' | 'flagger', question: GateQuestion, run: string) {
    const now = answerGate(question, await gateSituation(db, tenant, workload, cp.clock()));
    const key = [workload, rollout, integration, question.hook, question.release ?? ''].join('\n');
    const last = recorded.get(key);
    if (last !== undefined && last.allowed === now.allowed) return { allowed: now.allowed, reason: now.reason, ledgerIndex: last.seq };
    const { result, entries } = await cp.committer.submit(tenant, queryGate(workload, integration, question, run));
    const seq = entries[0]?.seq ?? null;
    recorded.set(key, { allowed: result.allowed, seq });
    return { allowed: result.allowed, reason: result.reason, ledgerIndex: seq };
  }

  api.post(
    `${base}/gates/argo`,
    { config, schema: { tags: ['gates'], summary: 'Argo Rollouts web metric provider: 200 with a decision (401 without the rollout\'s gate credential)', params: workloadParams, body: ArgoBody } },
    async (request) => {
      const { workload } = request.params;
      const rollout = await admitGate(workload, request.headers.authorization, undefined);
      const { release, podTemplateHash, rollout: name, step } = request.body;
      const question: GateQuestion = { hook: 'argo', ...(release === undefined ? {} : { release }) };
      const run = [name, podTemplateHash, step].filter((part) => part !== undefined).join('/');
      return { decision: await answer(workload, rollout, 'argo', question, run) };
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
      const rollout = await admitGate(workload, request.headers.authorization, request.body.metadata);
      const release = request.body.metadata?.release;
      const question: GateQuestion = { hook, ...(release === undefined ? {} : { release }) };
      const run = request.body.checksum ?? `${request.body.namespace}/${request.body.name}`;
      const decision = await answer(workload, rollout, 'flagger', question, run);
      if (decision.allowed) return decision;
      // Flagger treats any status above 202 as "no", and copies the body into a
      // Kubernetes event: the problem's detail says why, the decision rides along.
      return reply
        .code(412)
        .type('application/problem+json')
        .send({ ...toProblem(new CovenantError('gate-closed', decision.reason), request.url), decision });
    },
  );
}
