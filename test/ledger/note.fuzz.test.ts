import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { CovenantError } from '../../src/core/errors.js';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/ledger/checkpoint.js';
import { leafHash } from '../../src/ledger/merkle.js';
import { formatVerifierKey, parseVerifierKey, signNote, verifyNote } from '../../src/ledger/note.js';

/** Runs fn; any throw that is not a CovenantError fails the test. */
function attempt<T>(fn: () => T): T | CovenantError {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CovenantError) return error;
    throw error;
  }
}

const logKey = generateKeyPairSync('ed25519');
const otherKey = generateKeyPairSync('ed25519');
const LOG = 'log.example/fuzz';
const vkey = parseVerifierKey(formatVerifierKey(LOG, logKey.publicKey));
const TEXT = 'line one\n\nline — three\n';
const SINGLE = signNote(TEXT, LOG, logKey.privateKey);
// A cosignature by a key the verifier does not know: mutations there may be ignored.
const UNKNOWN_LINE = signNote(TEXT, 'witness.example', otherKey.privateKey).slice(TEXT.length + 1);
const COSIGNED = SINGLE + UNKNOWN_LINE;
const CHECKPOINT = { origin: LOG, size: 1234, root: leafHash(Buffer.from('root')) };
const SIGNED_CHECKPOINT = signCheckpoint(CHECKPOINT, LOG, logKey.privateKey);

// Includes lone surrogates, controls and the separators the formats care about.
const anyChar = fc.oneof(
  fc.constantFrom('\n', '\n\n', '—', '— ', ' ', '+', '=', '/', '\r', '\t', '\u007f', '\ud800', '\udc00', 'A', '0'),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'grapheme', maxLength: 3 }),
);
const anyString = fc.string({ unit: anyChar, maxLength: 200 });

/** A single edit of a string: replace, insert or delete one UTF-16 unit. */
const edit = (base: string) =>
  fc.tuple(fc.nat({ max: base.length }), fc.constantFrom('replace', 'insert', 'delete'), anyChar).map(([at, kind, ch]) => {
    const pos = Math.min(at, base.length - 1);
    if (kind === 'insert') return base.slice(0, at) + ch + base.slice(at);
    if (kind === 'delete') return base.slice(0, pos) + base.slice(pos + 1);
    return base.slice(0, pos) + ch + base.slice(pos + 1);
  });

/** Flips one or more bits of one UTF-8 byte. */
const byteFlip = (base: string) =>
  fc.tuple(fc.nat({ max: Buffer.byteLength(base) - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, mask]) => {
    const bytes = Buffer.from(base, 'utf8');
    bytes[at] = (bytes[at] as number) ^ mask;
    return bytes;
  });

describe('parsers only ever throw CovenantError', () => {
  it('parseVerifierKey: random strings; anything accepted re-formats to itself', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, edit(vkey.text)), (input) => {
        const result = attempt(() => parseVerifierKey(input));
        if (!(result instanceof CovenantError)) expect(formatVerifierKey(result.name, result.publicKey)).toBe(input);
      }),
      { numRuns: 3000 },
    );
  });

  it('verifyNote: random strings and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, anyString.map((s) => `${s}\n\n— ${LOG} ${s}\n`), fc.uint8Array({ maxLength: 300 })), (input) => {
        expect(attempt(() => verifyNote(input, [vkey]))).toBeInstanceOf(CovenantError);
      }),
      { numRuns: 3000 },
    );
  });

  it('parseCheckpoint: random strings; anything accepted is canonical', () => {
    const body = formatCheckpoint(CHECKPOINT);
    fc.assert(
      fc.property(fc.oneof(anyString, edit(body), edit(body).chain(edit)), (input) => {
        const result = attempt(() => parseCheckpoint(input));
        if (result instanceof CovenantError) return;
        // Strict parsing means there is exactly one text for each parsed value.
        const extensions = result.extensions.map((line) => `${line}\n`).join('');
        expect(formatCheckpoint(result) + extensions).toBe(input);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('a mutated note is never accepted as something else', () => {
  it('any single edit or byte flip of a note signed only by the known key is rejected', () => {
    fc.assert(
      fc.property(fc.oneof(edit(SINGLE), byteFlip(SINGLE)), (mutated) => {
        fc.pre(Buffer.compare(Buffer.from(mutated), Buffer.from(SINGLE)) !== 0);
        expect(attempt(() => verifyNote(mutated, [vkey]))).toBeInstanceOf(CovenantError);
      }),
      { numRuns: 3000 },
    );
  });

  it('edits to a cosigned note are rejected or leave the signed text untouched', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(edit(COSIGNED), byteFlip(COSIGNED)), (mutated) => {
        const result = attempt(() => verifyNote(mutated, [vkey]));
        if (result instanceof CovenantError) return;
        accepted++;
        // Only the unknown cosignature may have changed; the log's signature still binds the text.
        expect(result.text).toBe(TEXT);
        expect(result.verifiedBy).toEqual([LOG]);
        const asText = typeof mutated === 'string' ? mutated : mutated.toString('utf8');
        expect(asText.startsWith(SINGLE)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // Renaming the unknown cosigner keeps it unknown, so some edits must be accepted.
    expect(accepted).toBeGreaterThan(0);
  });

  it('a mutated signed checkpoint never opens to a different checkpoint', () => {
    fc.assert(
      fc.property(fc.oneof(edit(SIGNED_CHECKPOINT), byteFlip(SIGNED_CHECKPOINT)), (mutated) => {
        fc.pre(Buffer.compare(Buffer.from(mutated), Buffer.from(SIGNED_CHECKPOINT)) !== 0);
        expect(attempt(() => openCheckpoint(mutated, vkey))).toBeInstanceOf(CovenantError);
      }),
      { numRuns: 2000 },
    );
  });
});
