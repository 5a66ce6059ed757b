import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { roleCheck } from '../../ceremony/command.js';
import { signerOf, typed, type RouteContext } from '../context.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export function auditRoutes(app: FastifyInstance, { cp, tenant }: RouteContext): void {
  const api = typed(app);
  const tags = ['audit'];

  api.get(
    '/v1/audit/entries',
    {
      schema: {
        tags,
        summary: 'Query ledger entries',
        querystring: z.strictObject({
          type: z.string().max(128).optional(),
          actor: z.string().max(200).optional(),
          workload: z.string().max(128).optional(),
          since: z.iso.datetime({ offset: true }).optional(),
          after: count.optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
      },
    },
    async (request) => {
      const { since, ...rest } = request.query;
      const filter = { ...rest, ...(since !== undefined ? { since: new Date(since).toISOString() } : {}) };
      return { entries: await cp.ledger.entries(tenant, filter) };
    },
  );

  api.get(
    '/v1/audit/raw',
    {
      schema: {
        tags,
        summary: 'Stored entries exactly as kept (base64 leaf bytes), for independent verification',
        querystring: z.strictObject({ from: count.default(0), limit: z.coerce.number().int().min(1).max(10_000).default(1000) }),
      },
    },
    async (request) => {
      const rows = await cp.ledger.rawEntries(tenant, request.query.from, request.query.limit);
      return {
        entries: rows.map((row) => ({
          seq: row.seq,
          type: row.type,
          actor: row.actor,
          workload: row.workload,
          time: row.time,
          body: Buffer.from(row.body).toString('base64'),
          leafHash: row.leafHash ? hex(row.leafHash) : null,
        })),
      };
    },
  );

  api.get('/v1/audit/head', { schema: { tags, summary: 'Current tree size and root' } }, async () => {
    const head = await cp.ledger.head(tenant);
    return { treeSize: head.size, root: hex(head.root) };
  });

  api.get(
    '/v1/audit/proof',
    {
      schema: {
        tags,
        summary: 'Inclusion proof of an entry, with a signed checkpoint of the tree size',
        querystring: z.strictObject({ index: count, treeSize: count.optional() }),
      },
    },
    async (request) => {
      const proof = await cp.ledger.inclusionProof(tenant, request.query.index, request.query.treeSize);
      const { note } = await cp.checkpointer.signedAt(tenant, proof.treeSize);
      return { index: proof.index, treeSize: proof.treeSize, leafHash: hex(proof.leafHash), hashes: proof.hashes.map(hex), checkpoint: note };
    },
  );

  api.get(
    '/v1/audit/consistency',
    { schema: { tags, summary: 'Consistency proof between two tree sizes', querystring: z.strictObject({ from: count, to: count }) } },
    async (request) => {
      const proof = await cp.ledger.consistencyProof(tenant, request.query.from, request.query.to);
      return { from: proof.from, to: proof.to, hashes: proof.hashes.map(hex) };
    },
  );

  api.get('/v1/audit/checkpoint', { schema: { tags, summary: 'A signed checkpoint (C2SP note) of the current tree' } }, async (_request, reply) => {
    const { note } = await cp.checkpointer.signedAt(tenant);
    return reply.type('text/plain; charset=utf-8').send(note);
  });

  api.get(
    '/v1/audit/checkpoints',
    {
      schema: {
        tags,
        summary: 'Stored checkpoints, oldest first',
        querystring: z.strictObject({ after: z.coerce.number().int().min(-1).default(-1), limit: z.coerce.number().int().min(1).max(1000).default(1000) }),
      },
    },
    async (request) => ({
      checkpoints: (await cp.ledger.checkpoints(tenant, request.query.after, request.query.limit)).map((cp) => ({
        size: cp.size,
        root: hex(cp.root),
        note: cp.note,
        createdAt: cp.createdAt,
      })),
    }),
  );

  api.post('/v1/audit/checkpoints', { schema: { tags, summary: 'Sign and store a checkpoint of the current tree now' } }, async (request, reply) => {
    // Through the spine, so that a refusal is ledgered like every other one; an
    // allowed request appends nothing (the checkpoint is not a ledger entry).
    await cp.execute(tenant, roleCheck(signerOf(request), 'checkpoint', 'checkpoint.create'));
    const stored = await cp.checkpointer.checkpoint(tenant);
    return reply.code(201).send({ size: stored.size, root: hex(stored.root), note: stored.note, createdAt: stored.createdAt });
  });

  api.get('/v1/audit/log-key', { schema: { tags, summary: "The log's public key as a note verifier key" } }, async (_request, reply) => {
    return reply.type('text/plain; charset=utf-8').send(`${cp.logKey(tenant).vkey}\n`);
  });
}
