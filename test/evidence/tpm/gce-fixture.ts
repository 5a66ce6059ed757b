import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeTpmEvidence } from '../../../src/evidence/tpm/index.js';

const dir = fileURLToPath(new URL('../../fixtures/tpm-gce/', import.meta.url));
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(dir + name));

export const gce = {
  quote: read('derived_quote-sha256.tpms_attest'),
  signature: read('derived_quote-sha256.tpmt_signature'),
  akPublic: read('derived_ak-pub.tpmt_public'),
  akCertificate: read('derived_ak-cert.der'),
  intermediate: read('tpm_ek_intermediate_2.crt'),
  root: read('tpm_ek_root_1.cer'),
  pcrs: Object.fromEntries(
    Object.entries((JSON.parse(readFileSync(dir + 'derived_pcrs-sha256.json', 'utf8')) as { pcrs: Record<string, string> }).pcrs).map(
      ([index, hex]) => [Number(index), new Uint8Array(Buffer.from(hex, 'hex'))],
    ),
  ) as Record<number, Uint8Array>,
  nonce: new Uint8Array([0x90, 0x09]),
  now: new Date('2025-01-01T00:00:00Z'),
};

export type GceParts = Partial<{
  quote: Uint8Array;
  signature: Uint8Array;
  akPublic: Uint8Array | undefined;
  akCertificate: Uint8Array | undefined;
  akChain: Uint8Array[] | undefined;
  pcrs: Record<number, Uint8Array>;
}>;

/** The GCE vector as wire evidence, with any part replaced. */
export function gceEvidence(parts: GceParts = {}): Uint8Array {
  const pick = <K extends keyof GceParts>(key: K, fallback: GceParts[K]): GceParts[K] => (key in parts ? parts[key] : fallback);
  const akPublic = pick('akPublic', gce.akPublic);
  const akCertificate = pick('akCertificate', gce.akCertificate);
  const akChain = pick('akChain', undefined);
  return encodeTpmEvidence({
    quote: parts.quote ?? gce.quote,
    signature: parts.signature ?? gce.signature,
    pcrs: { sha256: parts.pcrs ?? gce.pcrs },
    ...(akPublic === undefined ? {} : { akPublic }),
    ...(akCertificate === undefined ? {} : { akCertificate }),
    ...(akChain === undefined ? {} : { akChain }),
  });
}

export const gceContext = {
  now: gce.now,
  expectedNonce: gce.nonce,
  trustAnchors: [gce.intermediate, gce.root],
};
