/**
 * A KBS client written only from the protocol description (shared/reference formats
 * A.1 and docs/key-broker.md), with nothing but `jose`, `fetch` and the platform's
 * WebCrypto — no Covenant code. It is what a third-party attester would write: if it
 * completes the flow against a Covenant server, the server speaks the protocol as
 * described, not merely as Covenant's own SDK expects.
 *
 * The TEE is the caller's: `evidence(reportData)` must return the TEE-specific
 * `primary_evidence` object whose report data is exactly the 64 bytes given.
 */
import { exportJWK, flattenedDecrypt, generateKeyPair, type FlattenedJWE } from 'jose';

export interface Attester {
  /** The KBS `tee` value, e.g. "sim". */
  readonly tee: string;
  evidence(reportData: Uint8Array): Promise<unknown>;
}

export interface InteropOptions {
  readonly server: string;
  readonly workload: string;
  readonly attester: Attester;
  /** The TEE key: EC P-256 or P-384 with ECDH-ES+A256KW, or RSA with RSA-OAEP-256. */
  readonly key?: 'P-256' | 'P-384' | 'RSA';
  /** Present the token as `Authorization: Bearer` instead of the session cookie. */
  readonly bearer?: boolean;
  /** Hash the runtime data as Trustee's attesters do, with `"additional-evidence": ""`. */
  readonly trusteeSpelling?: boolean;
}

export class KbsProtocolError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { type?: string; detail?: string; reason?: string },
  ) {
    super(`${status} ${problem.type ?? ''}: ${problem.detail ?? ''}`);
  }
}

/** RFC 8785 for what the runtime data holds (strings and objects): keys sorted at every level, no whitespace. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
    .join(',')}}`;
}

async function failed(response: Response): Promise<KbsProtocolError> {
  const text = await response.text();
  let problem: { type?: string; detail?: string; reason?: string } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    problem = { detail: text };
  }
  return new KbsProtocolError(response.status, problem);
}

function sessionCookie(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('kbs-session-id='));
  if (cookie === undefined) throw new Error('no kbs-session-id cookie');
  return cookie.split(';')[0]!;
}

export interface Session {
  readonly token: string;
  get(resource: string): Promise<Uint8Array>;
}

/** RCAR: Request, Challenge, Attestation, Response. */
export async function attest(options: InteropOptions): Promise<Session> {
  const alg = options.key === 'RSA' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
  const { publicKey, privateKey } = await generateKeyPair(alg, options.key === 'RSA' ? { modulusLength: 2048 } : { crv: options.key ?? 'P-256' });
  const exported = await exportJWK(publicKey);
  const teePubkey = options.key === 'RSA' ? { kty: 'RSA', alg, n: exported.n, e: exported.e } : { kty: 'EC', crv: exported.crv, alg, x: exported.x, y: exported.y };
  const url = (path: string) => new URL(`/kbs/v0/${path}`, options.server);

  // Request → Challenge
  const auth = await fetch(url('auth'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version: '0.1.1', tee: options.attester.tee, 'extra-params': { workload: options.workload } }),
  });
  if (auth.status !== 200) throw await failed(auth);
  const challenge = (await auth.json()) as { nonce: string; 'extra-params': unknown };

  // Attestation: REPORTDATA = SHA-384(canonical runtime data), zero-padded to 64 bytes.
  const runtimeData = { nonce: challenge.nonce, 'tee-pubkey': teePubkey };
  const hashed = options.trusteeSpelling ? { ...runtimeData, 'additional-evidence': '' } : runtimeData;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-384', new TextEncoder().encode(canonical(hashed))));
  const reportData = new Uint8Array(64);
  reportData.set(digest);
  const attestation = {
    'runtime-data': runtimeData,
    'tee-evidence': { primary_evidence: await options.attester.evidence(reportData), additional_evidence: '' },
  };
  const attested = await fetch(url('attest'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: sessionCookie(auth) },
    body: JSON.stringify(attestation),
  });
  if (attested.status !== 200) throw await failed(attested);
  const { token } = (await attested.json()) as { token: string };
  const cookie = sessionCookie(attested);

  return {
    token,
    // Response: a flattened JWE to the TEE key.
    async get(resource) {
      const response = await fetch(url(`resource/${resource}`), { headers: options.bearer ? { authorization: `Bearer ${token}` } : { cookie } });
      if (response.status !== 200) throw await failed(response);
      const jwe = (await response.json()) as FlattenedJWE;
      const { plaintext, protectedHeader } = await flattenedDecrypt(jwe, privateKey);
      if (protectedHeader?.alg !== alg || protectedHeader.enc !== 'A256GCM') throw new Error(`unexpected JWE header ${JSON.stringify(protectedHeader)}`);
      return plaintext;
    },
  };
}
