import { z } from 'zod';
import { CovenantError, type FieldIssue } from '../core/errors.js';

/**
 * What an attester posts to its session: the evidence in its plugin's media type, the
 * instance public key the evidence binds, and any collateral the verifier cannot know
 * (SEV-SNP VCEK, TPM AK certificate and PCR values). Raw evidence alone cannot carry
 * the key: SNP and TPM evidence hold only a digest of it.
 *
 *   { "evidence": { "type": "<media type>", "value": "<base64>" },
 *     "instanceKey": "<base64 DER SubjectPublicKeyInfo>",
 *     "collateral": ["<base64>", …],
 *     "devices": [ { "evidence": {…}, "collateral": […] }, … ] }
 *
 * `devices` is composite evidence: the accelerators (GPUs) attached to the TEE, each
 * with its own evidence binding the same nonce and instance key, so that one result
 * says whether both the CPU TEE and every device are what the policy accepts.
 */
export const ATTESTATION_MEDIA_TYPE = 'application/vnd.covenant.attestation+json';

export const MAX_EVIDENCE_BYTES = 64 * 1024;
export const MAX_COLLATERAL_ITEMS = 16;
export const MAX_INSTANCE_KEY_BYTES = 2048;
export const MAX_DEVICES = 8;

export interface DeviceEvidence {
  readonly evidenceType: string;
  readonly evidence: Uint8Array;
  readonly collateral: readonly Uint8Array[];
}

export interface AttestationEnvelope extends DeviceEvidence {
  /** DER SubjectPublicKeyInfo of the instance key. */
  readonly instanceKey: Uint8Array;
  /** Attached devices' evidence (composite attestation); empty for most TEEs. */
  readonly devices: readonly DeviceEvidence[];
}

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (Node's decoder skips garbage silently), within a byte bound. */
const base64Bytes = (maxBytes: number) =>
  z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(STANDARD_BASE64, 'must be standard base64')
    .transform((value) => new Uint8Array(Buffer.from(value, 'base64')))
    .refine((bytes) => bytes.length > 0, 'must not be empty');

const evidenceSchema = z.strictObject({
  type: z.string().min(1).max(128),
  value: base64Bytes(MAX_EVIDENCE_BYTES),
});
const collateralSchema = z.array(base64Bytes(MAX_EVIDENCE_BYTES)).max(MAX_COLLATERAL_ITEMS).optional();

const envelopeSchema = z.strictObject({
  evidence: evidenceSchema,
  instanceKey: base64Bytes(MAX_INSTANCE_KEY_BYTES),
  collateral: collateralSchema,
  devices: z.array(z.strictObject({ evidence: evidenceSchema, collateral: collateralSchema })).max(MAX_DEVICES).optional(),
});

/** Parses the posted bytes; every failure is a `bad-request` naming the fields. */
export function parseEnvelope(body: Uint8Array): AttestationEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new CovenantError('bad-request', `attestation request is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issues: FieldIssue[] = parsed.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(body)', message: issue.message }));
    throw new CovenantError('bad-request', `attestation request is invalid: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues });
  }
  return {
    evidenceType: parsed.data.evidence.type,
    evidence: parsed.data.evidence.value,
    instanceKey: parsed.data.instanceKey,
    collateral: parsed.data.collateral ?? [],
    devices: (parsed.data.devices ?? []).map((device) => ({ evidenceType: device.evidence.type, evidence: device.evidence.value, collateral: device.collateral ?? [] })),
  };
}

/** `devices` may be left out: most TEEs have none. */
export function encodeEnvelope(envelope: Omit<AttestationEnvelope, 'devices'> & { readonly devices?: readonly DeviceEvidence[] }): Uint8Array {
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
  const part = (item: DeviceEvidence) => ({
    evidence: { type: item.evidenceType, value: b64(item.evidence) },
    ...(item.collateral.length > 0 ? { collateral: item.collateral.map(b64) } : {}),
  });
  return new TextEncoder().encode(
    JSON.stringify({
      ...part(envelope),
      instanceKey: b64(envelope.instanceKey),
      ...(envelope.devices !== undefined && envelope.devices.length > 0 ? { devices: envelope.devices.map(part) } : {}),
    }),
  );
}
