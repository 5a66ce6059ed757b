import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../core/canonical.js';
import { CovenantError, type FieldIssue } from '../core/errors.js';
import { parseTeeKey, type TeeKey } from './tee-key.js';

/**
 * The KBS `Attestation` message (shared/reference formats A.1) and how its evidence
 * binds the runtime data.
 *
 *   {"runtime-data": {"nonce": "<Challenge.nonce>", "tee-pubkey": {…}},
 *    "tee-evidence": {"primary_evidence": {…}, "additional_evidence": ""}}
 *
 * REPORTDATA binding: the runtime data `{"nonce", "tee-pubkey"}` (as posted), serialised
 * canonically (RFC 8785: keys sorted at every level, no whitespace), hashed with
 * SHA-384; the 48-byte digest followed by 16 zero bytes fills the TEE's 64-byte report
 * data. Trustee's own attesters hash the primary evidence's runtime data with one more
 * member, `"additional-evidence"` (their device evidence, here always `""`), so that
 * spelling is accepted too: both commit to exactly the nonce and the key. Freshness
 * comes from the nonce (the challenge's, single use), the key binding from
 * `tee-pubkey`: a secret encrypted to that key can be read only inside the TEE that
 * produced the evidence.
 *
 * Refused, because nothing here could check them: `init-data` (no supported TEE class
 * measures a configuration id) and non-empty `additional_evidence` (device evidence).
 */
export interface KbsAttestation {
  readonly nonce: string;
  readonly teeKey: TeeKey;
  /** The TEE-specific evidence object, as posted. */
  readonly primaryEvidence: Readonly<Record<string, unknown>>;
  /** What the report data must commit to (before hashing): `{"nonce", "tee-pubkey"}`. */
  readonly runtimeData: Readonly<Record<string, unknown>>;
  /** Every accepted spelling of it: the above, and Trustee's with `"additional-evidence"`. */
  readonly runtimeDataForms: readonly Readonly<Record<string, unknown>>[];
}

export const REPORT_DATA_BYTES = 64;
/** Longest Challenge.nonce accepted back (the broker issues 44 characters). */
const MAX_NONCE_LENGTH = 128;

const schema = z.strictObject({
  'init-data': z.unknown().optional(),
  'runtime-data': z.strictObject({ nonce: z.string().min(1).max(MAX_NONCE_LENGTH), 'tee-pubkey': z.record(z.string(), z.unknown()) }),
  'tee-evidence': z.strictObject({ primary_evidence: z.record(z.string(), z.unknown()), additional_evidence: z.string().max(65_536).optional() }),
});

function refuse(issues: FieldIssue[]): never {
  throw new CovenantError('bad-request', `KBS attestation is invalid: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues });
}

export function parseKbsAttestation(body: Uint8Array): KbsAttestation {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new CovenantError('bad-request', `KBS attestation is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) refuse(parsed.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(body)', message: issue.message })));
  const document = parsed.data;
  if (document['init-data'] !== undefined) refuse([{ field: 'init-data', message: 'is not supported: no TEE class this broker verifies measures a configuration id to check it against' }]);
  const additional = document['tee-evidence'].additional_evidence;
  if (additional !== undefined && additional !== '') refuse([{ field: 'tee-evidence.additional_evidence', message: 'device evidence is not supported; send an empty string or leave it out' }]);
  const teeKey = parseTeeKey(document['runtime-data']['tee-pubkey']);
  const nonce = document['runtime-data'].nonce;
  const runtimeData = { nonce, 'tee-pubkey': teeKey.jwk };
  return { nonce, teeKey, primaryEvidence: document['tee-evidence'].primary_evidence, runtimeData, runtimeDataForms: [runtimeData, { ...runtimeData, 'additional-evidence': '' }] };
}

/** The 64 bytes the evidence's report data must hold: SHA-384(canonical runtime data) ‖ 16 zero bytes. */
export function kbsReportData(runtimeData: Readonly<Record<string, unknown>>): Uint8Array {
  const out = new Uint8Array(REPORT_DATA_BYTES);
  out.set(createHash('sha384').update(canonicalJson(runtimeData)).digest());
  return out;
}
