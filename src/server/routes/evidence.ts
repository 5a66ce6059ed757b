import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SHA256_DIGEST } from '../../core/canonical.js';
import { CovenantError } from '../../core/errors.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { RetainedEvidenceMeta } from '../../verifier/commands.js';
import { ATTESTATION_MEDIA_TYPE } from '../../verifier/envelope.js';
import { typed, type RouteContext } from '../context.js';

/** One retained attestation document, as `GET /v1/evidence/<digest>` answers. */
export interface RetainedEvidence {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** Standard base64 of the exact bytes posted (their SHA-256 is the digest). */
  readonly body: string;
  /** Where its verdict is; null for evidence retained before these were recorded. */
  readonly workload: string | null;
  readonly instance: string | null;
  readonly verdict: number | null;
  /** The time the evidence was checked at: what `covenant evidence verify --at` takes to repeat the check. */
  readonly receivedAt: string | null;
}

/**
 * Retained evidence by digest. Only attestation documents: the attachments table also
 * keeps sealed secret values and imported collateral, which this public read must never
 * serve, so the media type is part of the lookup, not a check after it.
 */
export async function retainedEvidence(db: Kysely<Database>, tenant: string, digest: string): Promise<RetainedEvidence | undefined> {
  const row = await db
    .selectFrom('attachments')
    .select(['media_type', 'body', 'meta'])
    .where('tenant', '=', tenant)
    .where('digest', '=', digest)
    .where('media_type', '=', ATTESTATION_MEDIA_TYPE)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const meta = JSON.parse(row.meta) as Partial<RetainedEvidenceMeta>;
  // The claims stay out: the verdict entry already has what an appraisal used, and the
  // document itself is what a re-check reads.
  return {
    digest,
    mediaType: row.media_type,
    size: row.body.length,
    body: Buffer.from(row.body).toString('base64'),
    workload: meta.workload ?? null,
    instance: meta.instance ?? null,
    verdict: meta.verdict ?? null,
    receivedAt: meta.receivedAt ?? null,
  };
}

export function evidenceRoutes(app: FastifyInstance, { cp, tenant }: RouteContext): void {
  typed(app).get(
    '/v1/evidence/:digest',
    {
      schema: {
        tags: ['attestation'],
        summary: 'A retained attestation document (the exact bytes posted, base64) and where its verdict is; 404 once pruned',
        params: z.strictObject({ digest: z.string().regex(SHA256_DIGEST, 'must be sha256: and 64 lowercase hex digits') }),
      },
    },
    async (request) => {
      const found = await retainedEvidence(cp.store.db, tenant, request.params.digest);
      if (found === undefined) {
        throw new CovenantError('not-found', `no retained evidence ${request.params.digest}: never posted, refused (refused evidence is not kept), or pruned after its retention`);
      }
      return found;
    },
  );
}
