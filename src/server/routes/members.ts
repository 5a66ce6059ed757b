import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { addMember, removeMember } from '../../ceremony/member-commands.js';
import { listMembers } from '../../ceremony/members.js';
import { keyThumbprint } from '../../ceremony/member-key.js';
import type { Member } from '../../core/model.js';
import { signerOf, typed, type RouteContext } from '../context.js';

const memberView = (member: Member) => ({
  name: member.name,
  alg: member.alg,
  publicKey: member.publicKey,
  thumbprint: keyThumbprint(member.publicKey),
  roles: member.roles,
  status: member.status,
  createdAt: member.createdAt,
});

export function memberRoutes(app: FastifyInstance, { cp, tenant }: RouteContext): void {
  const api = typed(app);
  const tags = ['members'];

  api.get('/v1/members', { schema: { tags, summary: 'List members' } }, async () => ({
    members: (await listMembers(cp.store.db, tenant)).map(memberView),
  }));

  api.post(
    '/v1/members',
    {
      schema: {
        tags,
        summary: 'Add a member (a public key with roles)',
        body: z.strictObject({
          name: z.string().min(1).max(64),
          publicKey: z.string().min(1).max(4096),
          roles: z.array(z.string().min(1).max(64)).min(1).max(16),
        }),
      },
    },
    async (request, reply) => {
      const member = await cp.execute(tenant, addMember(signerOf(request), request.body));
      return reply.code(201).send(memberView(member));
    },
  );

  api.delete(
    '/v1/members/:name',
    { schema: { tags, summary: 'Remove a member', params: z.strictObject({ name: z.string().min(1).max(64) }) } },
    async (request) => cp.execute(tenant, removeMember(signerOf(request), request.params.name)),
  );
}
