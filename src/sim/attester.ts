/**
 * The attester's half of challenge-response for a simulated TEE instance: ask for a
 * session, make evidence binding its nonce and the instance key, post it, return the
 * attestation result. SIMULATED — OFFERS NO SECURITY (see `tee.ts`); the protocol it
 * speaks is the real one, so fleets of these exercise the real verifier.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { base64url } from 'jose';
import { CovenantError, type ProblemType } from '../core/errors.js';
import { SIM_MEDIA_TYPE } from '../evidence/sim/format.js';
import { ATTESTATION_MEDIA_TYPE, encodeEnvelope } from '../verifier/envelope.js';
import { honouringRetryAfter, type RetryAfterOptions } from '../sdk/retry-after.js';
import type { SimulatedTee } from './tee.js';

/** One HTTP exchange; injectable so a benchmark or test can bring its own transport. */
export type Transport = (request: { method: 'POST'; url: string; headers: Record<string, string>; body?: Uint8Array }) => Promise<{ status: number; headers: { location?: string | undefined; 'retry-after'?: string | undefined }; body: string }>;

export const fetchTransport: Transport = async ({ method, url, headers, body }) => {
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  return {
    status: response.status,
    headers: { location: response.headers.get('location') ?? undefined, 'retry-after': response.headers.get('retry-after') ?? undefined },
    body: await response.text(),
  };
};

export interface AttestationResult {
  /** The EAR JWT. */
  readonly token: string;
  readonly status: string;
  readonly appraisal: { readonly instance: string; readonly status: string; readonly policy: string; readonly release?: { version: string; digest: string }; readonly reasons: readonly { code: string; message: string; severity: string }[] };
}

/** A refusal from the verifier, with its problem type. */
export class AttestationRefused extends CovenantError {
  constructor(type: ProblemType, readonly httpStatus: number, detail: string) {
    super(type, detail);
    this.name = 'AttestationRefused';
  }
}

function refusal(status: number, text: string): AttestationRefused {
  let problem: { type?: string; detail?: string } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    // not problem+json: the status says enough
  }
  return new AttestationRefused((problem.type?.split('/').pop() ?? 'internal') as ProblemType, status, problem.detail ?? `HTTP ${status}`);
}

export interface SimAttesterOptions extends RetryAfterOptions {
  /** Control plane base URL, e.g. http://127.0.0.1:7800 */
  readonly server: string;
  readonly workload: string;
  readonly tee: SimulatedTee;
  /** The instance key the evidence binds and the result is bound to (default: a new P-256 key). */
  readonly instanceKey?: { readonly publicKey: KeyObject; readonly privateKey: KeyObject };
  readonly transport?: Transport;
}

export class SimAttester {
  readonly instanceKey: { readonly publicKey: KeyObject; readonly privateKey: KeyObject };
  readonly #spki: Uint8Array;
  readonly #options: SimAttesterOptions;
  readonly #transport: Transport;

  constructor(options: SimAttesterOptions) {
    this.#options = options;
    this.#transport = options.transport ?? fetchTransport;
    this.instanceKey = options.instanceKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#spki = new Uint8Array(this.instanceKey.publicKey.export({ type: 'spki', format: 'der' }));
  }

  async attest(): Promise<AttestationResult> {
    const base = this.#options.server.endsWith('/') ? this.#options.server : `${this.#options.server}/`;
    const started = await this.#send({
      method: 'POST',
      url: new URL(`challenge-response/v1/newSession?workload=${encodeURIComponent(this.#options.workload)}`, base).toString(),
      headers: { accept: 'application/vnd.veraison.challenge-response-session+json' },
    });
    if (started.status !== 201 || started.headers.location === undefined) throw refusal(started.status, started.body);
    const nonce = base64url.decode((JSON.parse(started.body) as { nonce: string }).nonce);
    const body = encodeEnvelope({ evidenceType: SIM_MEDIA_TYPE, evidence: this.#options.tee.report(nonce, this.#spki), instanceKey: this.#spki, collateral: [] });
    const sessionUrl = new URL(started.headers.location, new URL('challenge-response/v1/', base)).toString();
    const done = await this.#send({ method: 'POST', url: sessionUrl, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, body });
    if (done.status !== 200) throw refusal(done.status, done.body);
    const reply = JSON.parse(done.body) as { status: string; result: string; appraisal: AttestationResult['appraisal'] };
    return { token: reply.result, status: reply.status, appraisal: reply.appraisal };
  }

  #send(request: Parameters<Transport>[0]): ReturnType<Transport> {
    return honouringRetryAfter(() => this.#transport(request), this.#options);
  }
}
