import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/ledger/checkpoint.js';
import { EMPTY_ROOT } from '../../src/ledger/merkle.js';
import { formatVerifierKey, parseVerifierKey, signNote } from '../../src/ledger/note.js';
import { expectRejected } from '../support/errors.js';

const ROOT = Buffer.from('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'base64');
const BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

const rejects = (fn: () => unknown, message?: RegExp): void => expectRejected(fn, 'bad-request', message);

describe('checkpoint bodies', () => {
  it('formats and parses the C2SP example', () => {
    expect(formatCheckpoint({ origin: 'example.com/behind-the-sofa', size: 20852163, root: ROOT })).toBe(BODY);
    const cp = parseCheckpoint(BODY);
    expect(cp).toEqual({ origin: 'example.com/behind-the-sofa', size: 20852163, root: ROOT, extensions: [] });
  });

  it('handles the empty tree and extension lines', () => {
    const empty = formatCheckpoint({ origin: 'log.example', size: 0, root: EMPTY_ROOT });
    expect(parseCheckpoint(empty).size).toBe(0);
    expect(parseCheckpoint(`${BODY}Timestamp: 1688058656037355364\nmore\n`).extensions).toEqual(['Timestamp: 1688058656037355364', 'more']);
  });

  it('parses strictly', () => {
    rejects(() => parseCheckpoint(BODY.slice(0, -1)), /newline/);
    rejects(() => parseCheckpoint('example.com\n1\n'), /origin, a size and a root/);
    rejects(() => parseCheckpoint(BODY.replace('20852163', '020852163')), /leading zeros/);
    rejects(() => parseCheckpoint(BODY.replace('20852163', '+20852163')), /decimal/);
    rejects(() => parseCheckpoint(BODY.replace('20852163', '')), /decimal/);
    rejects(() => parseCheckpoint(BODY.replace('20852163', '9007199254740992')), /2\^53/);
    rejects(() => parseCheckpoint(BODY.replace('20852163', '18446744073709551616')), /2\^53/);
    rejects(() => parseCheckpoint(BODY.replace('sofa', 'so fa')), /origin/);
    rejects(() => parseCheckpoint(BODY.replace('sofa', 'so+fa')), /origin/);
    rejects(() => parseCheckpoint(`\n${BODY}`), /origin/);
    rejects(() => parseCheckpoint(BODY.replace('q2I=', 'q2J=')), /canonical base64/);
    rejects(() => parseCheckpoint(BODY.replace('CsUYapGG', 'CsUYap')), /canonical base64|32 bytes/);
    rejects(() => parseCheckpoint(`${BODY.replace(/=\n$/, '')}AAAA\n`), /canonical base64|32 bytes/);
    rejects(() => parseCheckpoint(`${BODY}\n`), /extension lines must not be empty/);
    rejects(() => parseCheckpoint(`${BODY}a\tb\n`), /control character/);
  });

  it('refuses to format what it would not parse', () => {
    rejects(() => formatCheckpoint({ origin: 'a b', size: 1, root: ROOT }), /origin/);
    rejects(() => formatCheckpoint({ origin: 'a', size: -1, root: ROOT }), /size/);
    rejects(() => formatCheckpoint({ origin: 'a', size: 1.5, root: ROOT }), /size/);
    rejects(() => formatCheckpoint({ origin: 'a', size: 1, root: ROOT.subarray(1) }), /32 bytes/);
  });
});

describe('signed checkpoints', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const vkey = parseVerifierKey(formatVerifierKey('log.example/t1', publicKey));
  const cp = { origin: 'log.example/t1', size: 42, root: ROOT };

  it('signs and opens in one step', () => {
    const note = signCheckpoint(cp, 'log.example/t1', privateKey);
    expect(note.startsWith(formatCheckpoint(cp))).toBe(true);
    expect(openCheckpoint(note, vkey)).toEqual({ ...cp, extensions: [] });
    expect(openCheckpoint(note, vkey, { origin: 'log.example/t1' }).size).toBe(42);
  });

  it('rejects another origin, another key and a tampered size', () => {
    const note = signCheckpoint(cp, 'log.example/t1', privateKey);
    rejects(() => openCheckpoint(note, vkey, { origin: 'log.example/t2' }), /origin does not match/);
    const other = generateKeyPairSync('ed25519');
    rejects(() => openCheckpoint(note, parseVerifierKey(formatVerifierKey('log.example/t1', other.publicKey))), /no signature from a known key/);
    rejects(() => openCheckpoint(note.replace('\n42\n', '\n43\n'), vkey), /does not verify/);
  });

  it('rejects a validly signed note whose body is not a checkpoint', () => {
    const note = signNote('log.example/t1\n0042\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n', 'log.example/t1', privateKey);
    rejects(() => openCheckpoint(note, vkey), /leading zeros/);
  });
});
