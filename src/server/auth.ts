import type { FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { CovenantError } from '../core/errors.js';
import { findMember } from '../ceremony/members.js';
import { parseMemberPublicKey } from '../ceremony/member-key.js';
import { normalizeAuthority, parseSignatureHeaders, verifyRequestSignature } from '../ceremony/signed-request.js';
import type { Store } from '../store/store.js';

export interface AuthOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly windowSeconds: number;
  /**
   * The authorities (host[:port], normalised) this deployment answers signed requests for. Absent,
   * the request's own Host is taken: that refuses a request signed for another name,
   * but not one replayed with a forged Host to a deployment enrolling the same key.
   */
  readonly authorities?: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Exact body bytes as received: what the Content-Digest covers. */
    rawBody?: Buffer;
  }
}

/**
 * Authenticates a signed admin request (RFC 9421): the member named by `keyid` must
 * be active, the signature must verify with its registered key within the replay
 * window, and the nonce must be new. Returns the member's name. Whether the member
 * may do what it asks is the gate's decision, later, inside the command.
 */
export async function authenticate(request: FastifyRequest, tenant: string, options: AuthOptions): Promise<string> {
  // Every signed request binds its exact bytes: a body parsed without keeping them would
  // be checked as the empty body, so any body would pass a signature over none.
  if (request.body !== undefined && request.rawBody === undefined) {
    throw new CovenantError('signature-invalid', 'the body of this request cannot be bound to its signature');
  }
  const [path, query] = splitUrl(request.url);
  const authority = requestAuthority(request, options.authorities);
  const parsed = parseSignatureHeaders(request.headers, { method: request.method, authority, path, query, body: request.rawBody });
  const member = await findMember(options.store.db, tenant, parsed.keyId);
  if (member?.status !== 'active') throw new CovenantError('unauthenticated', 'the signing key belongs to no active member');
  const key = parseMemberPublicKey(member.publicKey);
  const verified = verifyRequestSignature(parsed, key.key, member.alg, { now: options.clock(), windowSeconds: options.windowSeconds });
  const inserted = await options.store.db
    .insertInto('request_nonces')
    .values({ tenant, key_id: verified.keyId, nonce: verified.nonce, expires_at: verified.expiresAt.toISOString() })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
    throw new CovenantError('replayed-nonce', 'this request nonce was already used');
  }
  return member.name;
}

/** Drops nonces whose requests can no longer pass the time check. */
export async function pruneNonces(store: Store, now: Date): Promise<void> {
  await store.db.deleteFrom('request_nonces').where('expires_at', '<', now.toISOString()).execute();
}

/** The `@authority` the signature must cover: the Host, if this deployment answers for it. */
function requestAuthority(request: FastifyRequest, authorities: readonly string[] | undefined): string {
  const host = request.headers.host;
  if (typeof host !== 'string' || host.length === 0) throw new CovenantError('unauthenticated', 'signed requests must carry a Host field');
  const authority = normalizeAuthority(host);
  if (authorities !== undefined && !authorities.includes(authority)) {
    throw new CovenantError('signature-invalid', 'the request is addressed to an authority this deployment does not answer for');
  }
  return authority;
}

function splitUrl(url: string): [string, string | undefined] {
  const at = url.indexOf('?');
  return at < 0 ? [url, undefined] : [url.slice(0, at), url.slice(at + 1)];
}
