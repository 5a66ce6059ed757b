import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { MAX_SIGNATURES, formatVerifierKey, parseVerifierKey, signNote, verifyNote, type VerifierKey } from '../../src/ledger/note.js';
import { expectRejected } from '../support/errors.js';

const EXAMPLE_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const EXAMPLE_TEXT = 'This is an example message.\n';
const EXAMPLE_SIG = '— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';
const EXAMPLE_NOTE = `${EXAMPLE_TEXT}\n${EXAMPLE_SIG}`;

function keyPair(name: string): { vkey: VerifierKey; privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'] } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { vkey: parseVerifierKey(formatVerifierKey(name, publicKey)), privateKey };
}

const rejects = (fn: () => unknown, message?: RegExp): void => expectRejected(fn, 'bad-request', message);

describe('verifier keys', () => {
  it('parses the C2SP example key and recomputes its key id', () => {
    const vkey = parseVerifierKey(EXAMPLE_VKEY);
    expect(vkey.name).toBe('example.com/foo');
    expect(vkey.keyId).toBe(0x530d903a);
    const raw = Buffer.from('AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k', 'base64').subarray(1);
    expect(formatVerifierKey('example.com/foo', raw)).toBe(EXAMPLE_VKEY);
    expect(formatVerifierKey('example.com/foo', vkey.publicKey)).toBe(EXAMPLE_VKEY);
  });

  it('round-trips generated keys, from either the public or the private key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const text = formatVerifierKey('log.example/a', publicKey);
    expect(formatVerifierKey('log.example/a', privateKey)).toBe(text);
    expect(parseVerifierKey(text).text).toBe(text);
  });

  it('rejects malformed keys precisely', () => {
    rejects(() => parseVerifierKey('example.com/foo'), /form/);
    rejects(() => parseVerifierKey(EXAMPLE_VKEY.replace('530d903a', '530d903b')), /does not match/);
    rejects(() => parseVerifierKey(EXAMPLE_VKEY.replace('530d903a', '530D903A')), /lowercase hex/);
    rejects(() => parseVerifierKey(EXAMPLE_VKEY.replace('example.com/foo', 'example.com/fo o')), /key name/);
    rejects(() => parseVerifierKey(`+530d903a+${EXAMPLE_VKEY.split('+')[2]}`), /key name/);
    // Node's decoder tolerates these; each decodes to the same key bytes.
    rejects(() => parseVerifierKey(`${EXAMPLE_VKEY}=`), /canonical base64/);
    rejects(() => parseVerifierKey(EXAMPLE_VKEY.replace('+Aeky', '+Ae ky')), /canonical base64/);
    const urlSafe = formatVerifierKey('u', Buffer.alloc(32, 0xfb));
    expect(urlSafe).toMatch(/\+.*\+.*[+/]/);
    expect(parseVerifierKey(urlSafe).text).toBe(urlSafe);
    rejects(() => parseVerifierKey(urlSafe.replace(/\//g, '_')), /canonical base64/);
    rejects(() => parseVerifierKey(EXAMPLE_VKEY.replace('+AekyeR', '+AukyeR')), /unsupported verifier key type/);
    rejects(() => parseVerifierKey(`${EXAMPLE_VKEY.slice(0, -4)}`), /canonical base64|32 bytes/);
    rejects(() => formatVerifierKey('a+b', Buffer.alloc(32)), /key name/);
    rejects(() => formatVerifierKey('a', Buffer.alloc(31)), /32 bytes/);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    rejects(() => formatVerifierKey('a', publicKey), /Ed25519/);
  });
});

describe('signed notes', () => {
  it('verifies the C2SP example note', () => {
    const result = verifyNote(EXAMPLE_NOTE, [parseVerifierKey(EXAMPLE_VKEY)]);
    expect(result).toEqual({ text: EXAMPLE_TEXT, verifiedBy: ['example.com/foo'] });
    expect(verifyNote(Buffer.from(EXAMPLE_NOTE), [parseVerifierKey(EXAMPLE_VKEY)]).text).toBe(EXAMPLE_TEXT);
  });

  it('signs notes that it and the example format agree on', () => {
    const { vkey, privateKey } = keyPair('log.example/a');
    const text = 'first line\n\nblank line above is part of the text\n';
    const note = signNote(text, 'log.example/a', privateKey);
    expect(note.startsWith(`${text}\n— log.example/a `)).toBe(true);
    expect(note.endsWith('\n')).toBe(true);
    expect(verifyNote(note, [vkey])).toEqual({ text, verifiedBy: ['log.example/a'] });
  });

  it('ignores unknown keys but needs one known signature', () => {
    const a = keyPair('a.example');
    const b = keyPair('b.example');
    const note = signNote('hello\n', 'a.example', a.privateKey);
    rejects(() => verifyNote(note, [b.vkey]), /no signature from a known key/);
    // Same name, different key: a different key id, so still unknown.
    const impostor = keyPair('a.example');
    rejects(() => verifyNote(note, [impostor.vkey]), /no signature from a known key/);
    const cosigned = note + signNote('hello\n', 'b.example', b.privateKey).split('\n\n')[1];
    expect(verifyNote(cosigned, [a.vkey, b.vkey]).verifiedBy).toEqual(['a.example', 'b.example']);
    expect(verifyNote(cosigned, [b.vkey]).verifiedBy).toEqual(['b.example']);
  });

  it('rejects the note when a known key signature fails', () => {
    const a = keyPair('a.example');
    const b = keyPair('b.example');
    const good = signNote('hello\n', 'a.example', a.privateKey);
    const otherText = signNote('bye\n', 'b.example', b.privateKey).split('\n\n')[1] as string;
    rejects(() => verifyNote(good + otherText, [a.vkey, b.vkey]), /by "b.example" does not verify/);
    expect(verifyNote(good + otherText, [a.vkey]).verifiedBy).toEqual(['a.example']);
  });

  it('accepts at least 16 signatures but bounds the total', () => {
    const keys = Array.from({ length: 20 }, (_, i) => keyPair(`k${i}.example`));
    const text = 'many\n';
    const lines = keys.map((k) => (signNote(text, k.vkey.name, k.privateKey).split('\n\n')[1] as string)).join('');
    expect(verifyNote(`${text}\n${lines}`, keys.map((k) => k.vkey)).verifiedBy).toHaveLength(20);
    const filler = keys[0] === undefined ? '' : (signNote(text, 'unknown.example', keys[0].privateKey).split('\n\n')[1] as string);
    const crowded = `${text}\n${lines}${filler.repeat(MAX_SIGNATURES - 20)}`;
    expect(verifyNote(crowded, [keys[3]?.vkey as VerifierKey]).verifiedBy).toEqual(['k3.example']);
    rejects(() => verifyNote(crowded + filler, [keys[3]?.vkey as VerifierKey]), /more than 100 signatures/);
  });

  it('parses strictly', () => {
    const vkeys = [parseVerifierKey(EXAMPLE_VKEY)];
    rejects(() => verifyNote(EXAMPLE_TEXT + EXAMPLE_SIG, vkeys), /blank line/);
    rejects(() => verifyNote(EXAMPLE_NOTE.slice(0, -1), vkeys), /end with a newline/);
    rejects(() => verifyNote(`${EXAMPLE_TEXT}\n`, vkeys), /non-empty/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('— ', '-- '), vkeys), /em dash/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('— ', '—'), vkeys), /em dash/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('M=\n', 'N=\n'), vkeys), /canonical base64/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('foo Uw2Q', 'foo  Uw2Q'), vkeys), /canonical base64/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('example.', 'exa\rmple.'), vkeys), /control character/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('This', 'Th\tis'), vkeys), /control character/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('This', 'Th\u007fis'), vkeys), /control character/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('This', 'Th\ud800is'), vkeys), /UTF-8/);
    rejects(() => verifyNote(Buffer.concat([Buffer.from([0xff]), Buffer.from(EXAMPLE_NOTE)]), vkeys), /UTF-8/);
    rejects(() => verifyNote(`${EXAMPLE_NOTE}— example.com/foo AAAA\n`, vkeys), /too short/);
    rejects(() => verifyNote('x'.repeat(1024 * 1024 + 1), vkeys), /exceeds/);
    rejects(() => verifyNote(EXAMPLE_NOTE.replace('message', 'massage'), vkeys), /does not verify/);
  });

  it('refuses to sign text it could not verify', () => {
    const { privateKey } = keyPair('a.example');
    rejects(() => signNote('no newline', 'a.example', privateKey), /end with a newline/);
    rejects(() => signNote('tab\there\n', 'a.example', privateKey), /control character/);
    rejects(() => signNote('ok\n', 'bad name', privateKey), /key name/);
    const { publicKey } = generateKeyPairSync('ed25519');
    rejects(() => signNote('ok\n', 'a.example', publicKey), /private key/);
  });
});
