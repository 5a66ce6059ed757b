/**
 * AWS Nitro Enclaves verification rate (chains cached) beside the raw ECDSA P-384/SHA-384
 * check of the same COSE signatures with the same keys: the ratio says what CBOR parsing,
 * the schema, the chain cache lookup and the claims add to the one signature a
 * verification cannot avoid. The issue sets no goal for it.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode, Tag } from 'cbor2';
import { nitroPlugin, verifiedChains } from '../src/evidence/nitro/index.js';
import type { VerifyContext } from '../src/evidence/plugin.js';
import { benchP384, verificationLine, type P384Figures, type P384Vector, type VerificationOptions } from './verification.js';

export type NitroOptions = VerificationOptions;
export type NitroFigures = P384Figures;

// Compiled: <project>/dist/bench/nitro.js; run from source: <project>/bench/nitro.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nitro');

/** The real document of test/fixtures/nitro, at the time its tests verify it. */
const VECTORS = [{ name: 'yawn eu-central-1 (AWS root)', file: 'yawn-nitro-attest_attestation.cose', at: '2025-01-06T16:07:05Z' }] as const;

interface Vector extends P384Vector {
  readonly document: Uint8Array;
  readonly context: VerifyContext;
  /** The COSE Sig_structure, built here with cbor2, not by the plugin. */
  readonly signed: Uint8Array;
  /** r ‖ s, 48 bytes each: IEEE P1363, as COSE carries it. */
  readonly signature: Uint8Array;
}

/** The baseline reads the envelope and key itself (cbor2 and node's X.509, not our parser). */
function baselineParts(document: Uint8Array): P384Vector {
  const top = decode(document) as unknown;
  const [protectedHeader, , payload, signature] = (top instanceof Tag ? top.contents : top) as Uint8Array[];
  const certificate = (decode(payload!, { preferMap: true }) as Map<string, Uint8Array>).get('certificate')!;
  return {
    signed: encode(['Signature1', protectedHeader!, new Uint8Array(0), payload!]),
    signature: signature!,
    key: new X509Certificate(certificate).publicKey,
  };
}

async function loadVectors(): Promise<Vector[]> {
  return Promise.all(
    VECTORS.map(async (v) => {
      const document = new Uint8Array(await fs.readFile(path.join(FIXTURES, v.file)));
      return { document, context: { now: new Date(v.at) }, ...baselineParts(document) };
    }),
  );
}

export async function benchNitro(options: NitroOptions): Promise<NitroFigures> {
  return benchP384(await loadVectors(), VECTORS.map((v) => v.name), (v) => nitroPlugin.verify(v.document, v.context), verifiedChains, options);
}

export function nitroLine(f: NitroFigures): string {
  return verificationLine('nitro', f, { label: 'raw P-384 verify', perSec: f.rawP384PerSec });
}
