import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { approvalsNeeded, DEFAULT_RULE } from '../../core/constitution.js';
import { CovenantError } from '../../core/errors.js';
import { decisionMessage, PROPOSAL_STATUSES, statusAt, type Proposal } from '../../core/proposal.js';
import { setRule } from '../../ceremony/constitution.js';
import { ACTION_CLASSES } from '../../ceremony/gate.js';
import { voteOnProposal } from '../../ceremony/proposals.js';
import { constitutionRules, findProposal, listProposals, votesOf, type StoredVote } from '../../ceremony/queries.js';
import { reportMarkdown, trustReport } from '../../ceremony/report.js';
import { CHANGE_AUTHORIZED, type ChangeAuthorized } from '../../ceremony/events.js';
import type { LedgerEntry } from '../../ledger/entry.js';
import { breakGlass, ratifyBreakGlass } from '../../policy/break-glass.js';
import { POLICY_VERSION_CREATED, type PolicyVersionCreated } from '../../policy/events.js';
import { signerOf, typed, type RouteContext } from '../context.js';
import { policyView } from './workloads.js';

const idParams = z.strictObject({ id: z.string().min(8).max(64) });
const decision = z.enum(['approve', 'reject']);

function proposalView(proposal: Proposal, votes: readonly StoredVote[], now: Date) {
  const d = proposal.document;
  return {
    id: proposal.id,
    status: statusAt(proposal, now),
    action: d.action,
    command: d.command,
    target: d.target,
    proposer: d.proposer,
    createdAt: d.createdAt,
    expiresAt: d.expiresAt,
    rule: d.rule,
    approvals: votes.filter((v) => v.decision === 'approve').map((v) => v.member),
    needed: approvalsNeeded(d.rule),
    ...(proposal.closedReason === undefined ? {} : { closedReason: proposal.closedReason }),
  };
}

/** `onExecuted`: told when an approval executes a change, for caches of what a change may touch. */
export function ceremonyRoutes(app: FastifyInstance, { cp, tenant, onExecuted }: RouteContext & { readonly onExecuted?: () => void }): void {
  const api = typed(app);
  const db = cp.store.db;
  const tags = ['ceremonies'];

  const requireProposal = async (id: string): Promise<Proposal> => {
    const proposal = await findProposal(db, tenant, id);
    if (proposal === undefined) throw new CovenantError('not-found', `no proposal ${id} (or the prefix is ambiguous)`);
    return proposal;
  };

  api.get(
    '/v1/proposals',
    { schema: { tags, summary: 'Proposals, newest last', querystring: z.strictObject({ status: z.enum([...PROPOSAL_STATUSES, 'expired']).optional() }) } },
    async (request) => {
      const now = cp.clock();
      const { status } = request.query;
      // Expiry is derived, not stored: an expired proposal is stored as open.
      const stored = await listProposals(db, tenant, status === 'expired' ? 'open' : status);
      const proposals = stored.filter((proposal) => status === undefined || statusAt(proposal, now) === status);
      return { proposals: await Promise.all(proposals.map(async (p) => proposalView(p, await votesOf(db, tenant, p.id), now))) };
    },
  );

  api.get('/v1/proposals/:id', { schema: { tags, summary: 'A proposal: its content, the rule it is counted against, every signed decision', params: idParams } }, async (request) => {
    const proposal = await requireProposal(request.params.id);
    const votes = await votesOf(db, tenant, proposal.id);
    return { ...proposalView(proposal, votes, cp.clock()), document: proposal.document, votes };
  });

  api.get(
    '/v1/proposals/:id/message',
    { schema: { tags, summary: 'The exact bytes a member signs to approve or reject (for offline signing)', params: idParams, querystring: z.strictObject({ decision: decision.default('approve') }) } },
    async (request, reply) => {
      const proposal = await requireProposal(request.params.id);
      return reply.type('application/json').send(Buffer.from(decisionMessage(proposal, request.query.decision)));
    },
  );

  api.post(
    '/v1/proposals/:id/votes',
    {
      // The member's signature over the proposal is the credential: a decision signed
      // on an air-gapped machine may be carried in by anyone.
      config: { unsigned: true },
      schema: {
        tags,
        summary: "Submit a member's signed decision; the approval that reaches the quorum executes the change",
        params: idParams,
        body: z.strictObject({ member: z.string().min(1).max(64), decision, signature: z.string().min(1).max(256) }),
      },
    },
    async (request) => {
      const outcome = await cp.execute(tenant, voteOnProposal(cp.commands, { id: request.params.id, ...request.body }));
      if (outcome.status === 'executed') onExecuted?.();
      return outcome;
    },
  );

  api.get('/v1/constitution', { schema: { tags, summary: 'The approval rule of every class of change' } }, async () => {
    const rules = await constitutionRules(db, tenant);
    return {
      rules: ACTION_CLASSES.map((action) => {
        const set = rules.get(action);
        return set === undefined ? { action, rule: DEFAULT_RULE, default: true } : { action, rule: set.rule, default: false, setAt: set.setAt, setBy: set.setBy };
      }),
    };
  });

  api.post(
    '/v1/constitution/:action',
    {
      schema: {
        tags,
        summary: "Set a class's approval rule (itself governed by the `constitution` rule)",
        params: z.strictObject({ action: z.enum(ACTION_CLASSES) }),
        body: z.strictObject({
          threshold: z.number().int().min(1).max(32),
          role: z.string().min(1).max(32),
          proposerCounts: z.boolean().optional(),
          expiry: z.union([z.string().max(16), z.number().int()]).optional(),
          vetoRoles: z.array(z.string().min(1).max(32)).max(16).optional(),
        }),
      },
    },
    async (request) => cp.execute(tenant, setRule(signerOf(request), { action: request.params.action, ...request.body })),
  );

  const workloadParams = z.strictObject({ workload: z.string().min(1).max(128) });

  api.post(
    '/v1/workloads/:workload/break-glass',
    {
      schema: {
        tags,
        summary: 'Break-glass: accept removed releases for a time box, then they leave unless ratified',
        params: workloadParams,
        body: z.strictObject({ accept: z.array(z.string().min(1).max(64)).min(1).max(16), reason: z.string().min(1).max(1024), duration: z.union([z.string().max(16), z.number().int()]).optional() }),
      },
    },
    async (request, reply) => reply.code(201).send(policyView(await cp.execute(tenant, breakGlass(signerOf(request), request.params.workload, request.body)))),
  );

  api.post(
    '/v1/workloads/:workload/break-glass/ratify',
    {
      schema: {
        tags,
        summary: 'Ratify a break-glass under the normal policy rule: the releases stay accepted',
        params: workloadParams,
        body: z.strictObject({ versions: z.array(z.string().min(1).max(64)).min(1).max(16), reason: z.string().min(1).max(1024) }),
      },
    },
    async (request) => policyView(await cp.execute(tenant, ratifyBreakGlass(signerOf(request), request.params.workload, request.body))),
  );

  api.get(
    '/v1/audit/report',
    {
      schema: {
        tags: ['audit'],
        summary: 'Every change of trust since a time: proposer, approvers, rule, break-glass',
        querystring: z.strictObject({ since: z.iso.datetime({ offset: true }), format: z.enum(['json', 'markdown']).default('json') }),
      },
    },
    async (request, reply) => {
      const since = new Date(request.query.since).toISOString();
      const entries: LedgerEntry[] = [];
      for (;;) {
        const page = await cp.ledger.entries(tenant, { since, ...(entries.length === 0 ? {} : { after: entries[entries.length - 1]!.seq }), limit: 1000 });
        if (page.length === 0) break;
        entries.push(...page);
      }
      const report = trustReport(entries, since, cp.clock());
      return request.query.format === 'markdown' ? reply.type('text/markdown; charset=utf-8').send(reportMarkdown(report)) : report;
    },
  );

  api.get(
    '/v1/audit/who-approved',
    { schema: { tags: ['audit'], summary: 'Who approved the change that created a policy version', querystring: z.strictObject({ policy: z.string().regex(/^[0-9a-f]{8,64}$/) }) } },
    async (request) => {
      const wanted = request.query.policy;
      let found: LedgerEntry | undefined;
      for (let after: number | undefined; found === undefined; ) {
        const page = await cp.ledger.entries(tenant, { type: POLICY_VERSION_CREATED, ...(after === undefined ? {} : { after }), limit: 1000 });
        if (page.length === 0) break;
        found = page.find((entry) => (entry.payload as PolicyVersionCreated).id.startsWith(wanted));
        after = page[page.length - 1]!.seq;
      }
      if (found === undefined) throw new CovenantError('not-found', `no policy version ${wanted}`);
      const version = found.payload as PolicyVersionCreated;
      // The authorisation comes first in the change's transaction, a few entries before.
      const window = await cp.ledger.entries(tenant, { after: Math.max(-1, found.seq - 17), limit: 17 });
      const change = window.filter((e) => e.type === CHANGE_AUTHORIZED && e.seq < found.seq && e.seq + (e.payload as ChangeAuthorized).produced >= found.seq).pop();
      return {
        policy: version.id,
        workload: version.document.workload,
        number: version.document.number,
        seq: found.seq,
        time: found.time,
        actor: found.actor,
        authorization: change === undefined ? null : { seq: change.seq, ...(change.payload as ChangeAuthorized) },
      };
    },
  );
}
