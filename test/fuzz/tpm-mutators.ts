import { encodeTpmEvidence } from '../../src/evidence/tpm/index.js';
import { syntheticQuote } from '../evidence/tpm/builders.js';
import { gce, gceContext } from '../evidence/tpm/gce-fixture.js';

/** Seeded mutation of TPM inputs, shared by the vitest fuzz and the long standalone run. */

export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x20, 0x40];

/** A few random edits: bit flips, interesting bytes, big-endian size fields, inserts, deletes, truncation. */
export function mutateBytes(input: Uint8Array, rng: Rng): Uint8Array {
  let bytes = Array.from(input);
  const edits = 1 + Math.floor(rng() * 4);
  for (let edit = 0; edit < edits; edit++) {
    const at = Math.floor(rng() * (bytes.length + 1));
    switch (Math.floor(rng() * 7)) {
      case 0:
        if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(rng() * 8));
        break;
      case 1:
        if (at < bytes.length) bytes[at] = pick(rng, INTERESTING);
        break;
      case 2: // A size field claiming far more (or less) than follows.
        if (at + 1 < bytes.length) {
          const value = pick(rng, [0x0000, 0x0001, 0x00ff, 0x0100, 0x7fff, 0xffff, Math.floor(rng() * 0x10000)]);
          bytes[at] = value >> 8;
          bytes[at + 1] = value & 0xff;
        }
        break;
      case 3:
        bytes.splice(at, 0, ...Array.from({ length: 1 + Math.floor(rng() * 8) }, () => Math.floor(rng() * 256)));
        break;
      case 4:
        bytes.splice(at, 1 + Math.floor(rng() * 8));
        break;
      case 5:
        bytes = bytes.slice(0, at);
        break;
      default:
        if (bytes.length > 0) {
          const from = Math.floor(rng() * bytes.length);
          bytes.splice(at, 0, ...bytes.slice(from, from + 1 + Math.floor(rng() * 16)));
        }
    }
  }
  return new Uint8Array(bytes);
}

export function randomBytes(rng: Rng, max = 300): Uint8Array {
  return Uint8Array.from({ length: Math.floor(rng() * max) }, () => Math.floor(rng() * 256));
}

const synthetic = [syntheticQuote({ keyType: 'ecdsa-p256' }), syntheticQuote({ keyType: 'rsapss', hash: 'sha384' })];

/** Seed documents, each with the context it verifies under, so mutations start from "valid". */
export const seeds = [
  {
    parts: { quote: gce.quote, signature: gce.signature, pcrs: { sha256: gce.pcrs }, akPublic: gce.akPublic, akCertificate: gce.akCertificate, akChain: [gce.intermediate] },
    context: gceContext,
  },
  ...synthetic.map((q) => ({
    parts: { quote: q.quote, signature: q.signature, pcrs: { [q.bank]: q.values }, akPublic: q.akPublic },
    context: { now: gce.now, expectedNonce: q.nonce, trustAnchors: [q.pin] },
  })),
];

export const structureSeeds = {
  attest: [gce.quote, ...synthetic.map((q) => q.quote)],
  signature: [gce.signature, ...synthetic.map((q) => q.signature)],
  public: [gce.akPublic, ...synthetic.map((q) => q.akPublic)],
};

const JSON_JUNK: readonly unknown[] = [null, 0, -1, 1e308, '', 'AAAA', '====', [], {}, true, 'x'.repeat(5000), { '0': 'zz' }];

/** Either a binary part re-encoded after mutation (reaching the deep parsers) or the JSON text mutated. */
export function mutateEvidence(rng: Rng): { evidence: Uint8Array; context: (typeof seeds)[number]['context'] } {
  const seed = pick(rng, seeds);
  const parts = { ...seed.parts } as Record<string, unknown>;
  const mode = Math.floor(rng() * 4);
  if (mode <= 1) {
    const key = pick(rng, ['quote', 'signature', 'akPublic', 'akCertificate'] as const);
    const value = parts[key];
    if (value instanceof Uint8Array) parts[key] = mutateBytes(value, rng);
    else parts[key] = randomBytes(rng);
    return { evidence: encodeTpmEvidence(parts as Parameters<typeof encodeTpmEvidence>[0]), context: seed.context };
  }
  const text = encodeTpmEvidence(parts as Parameters<typeof encodeTpmEvidence>[0]);
  if (mode === 2) return { evidence: mutateBytes(text, rng), context: seed.context };
  const document = JSON.parse(new TextDecoder().decode(text)) as Record<string, unknown>;
  const key = pick(rng, ['quote', 'signature', 'pcrs', 'akPublic', 'akCertificate', 'akChain', 'extra']);
  if (rng() < 0.3) delete document[key];
  else document[key] = pick(rng, JSON_JUNK);
  return { evidence: new TextEncoder().encode(JSON.stringify(document)), context: seed.context };
}
