import { signRequest } from '../ceremony/signed-request.js';
import type { MemberPrivateKey } from '../ceremony/member-key.js';
import { CovenantError } from '../core/errors.js';

/** A refusal from the server, carried to the CLI's one-line error. */
export class ServerProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** The server could not be reached at all. */
export class Unreachable extends Error {}

/** The change was accepted as a proposal (202): not an error, but not done either. */
export class PendingProposal extends Error {
  constructor(readonly proposal: { readonly id: string; readonly command: string; readonly approvals: readonly string[]; readonly needed: number; readonly expiresAt: string }) {
    super(`proposal ${proposal.id} pending`);
  }

  /** What the CLI prints for it: the proposal and how to approve it. */
  lines(): [string, string] {
    const { id, command, approvals, needed, expiresAt } = this.proposal;
    return [
      `proposal ${id} pending: ${command} needs ${needed} approvals, has ${approvals.length}${approvals.length > 0 ? ` (${approvals.join(', ')})` : ''}; open until ${expiresAt}`,
      `approve with: covenant proposal approve ${id.slice(0, 16)}  (or offline: covenant proposal export / sign / approve --signature)`,
    ];
  }
}

export interface Signer {
  readonly member: string;
  readonly key: MemberPrivateKey;
}

/** HTTP client of the control plane: JSON in and out, mutating requests signed. */
export class Client {
  constructor(
    readonly server: string,
    private readonly signer?: Signer,
    /** What a signed request says when there is no signer. */
    private readonly unsigned = 'no member key: run `covenant init` or set COVENANT_HOME',
  ) {}

  get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    return this.#send<T>('GET', withQuery(path, query));
  }

  text(path: string): Promise<string> {
    return this.#send<string>('GET', path, undefined, true);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.#send<T>('POST', path, body);
  }

  /** An unsigned POST, for routes whose body is the credential (`/v1/tokens/check`): a relying party needs no member key. */
  ask<T>(path: string, body: unknown): Promise<T> {
    return this.#send<T>('POST', path, body, false, false);
  }

  delete<T>(path: string): Promise<T> {
    return this.#send<T>('DELETE', path);
  }

  async #send<T>(method: string, target: string, body?: unknown, asText = false, signed = method !== 'GET'): Promise<T> {
    const url = new URL(target, this.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json, text/plain' };
    if (payload) headers['content-type'] = 'application/json';
    if (signed) {
      if (!this.signer) throw new CovenantError('unauthenticated', this.unsigned);
      Object.assign(
        headers,
        signRequest({
          method,
          authority: url.host,
          path: url.pathname,
          query: url.search.slice(1),
          body: payload,
          keyId: this.signer.member,
          alg: this.signer.key.alg,
          privateKey: this.signer.key.key,
          created: new Date(),
        }),
      );
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(payload ? { body: payload } : {}) });
    } catch (error) {
      throw new Unreachable(`cannot reach the server at ${this.server}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    if (response.status === 202) {
      const reply = JSON.parse(text) as { status?: string; proposal?: PendingProposal['proposal'] };
      if (reply.status === 'pending' && reply.proposal !== undefined) throw new PendingProposal(reply.proposal);
    }
    if (!response.ok) {
      let problem: { type?: string; detail?: string; title?: string } = {};
      try {
        problem = JSON.parse(text) as typeof problem;
      } catch {
        // not problem+json: fall through with the status alone
      }
      const type = problem.type?.split('/').pop() ?? 'internal';
      throw new ServerProblem(response.status, type, problem.detail ?? problem.title ?? `HTTP ${response.status}`);
    }
    return (asText ? text : text.length > 0 ? JSON.parse(text) : undefined) as T;
  }
}

function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export const encodeName = (name: string): string => encodeURIComponent(name);
