import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { trustedChain, verifiedChains } from '../../../src/evidence/nitro/chain.js';
import { parseSign1, sigStructure } from '../../../src/evidence/nitro/cose.js';
import { parseDocument } from '../../../src/evidence/nitro/document.js';
import { certificatePem as pem, derSignatureOfP1363, openssl, opensslDigestVerify, opensslVerify, scratchDirectory } from '../openssl.js';
import { onlyEvidenceErrors, refused } from '../only-evidence-errors.js';
import { issue } from '../x509/pki.js';
import { document, makePki, SYNTH_NOW, SYNTH_VALIDITY, type Pki } from './builder.js';
import { awsRootPem, fixturePath, MARLIN, REAL } from './fixtures.js';

/**
 * Cross-checks against Debian's `openssl` CLI, an independent X.509 and ECDSA
 * implementation: `openssl verify -attime <t> -CAfile <anchor> -untrusted <cabundle>` on
 * the same chains at the same times must reach the same verdict as the plugin's chain
 * check, and `openssl dgst` must accept the COSE signature over our Sig_structure.
 * Missing openssl is a failure, not a skip: the cross-check is the point.
 */

const scratch = scratchDirectory('covenant-nitro-openssl-');
let pki: Pki;
let stranger: Pki;
let deepDocument: Uint8Array;
let counter = 0;

function file(contents: string): string {
  return scratch.write(`f${counter++}.pem`, contents);
}

type Verdict = 'ok' | 'expired' | 'refused';

/** openssl's verdict on the document's chain under `anchor` at `now`. */
function theirs(evidence: Uint8Array, anchorPem: string, now: Date): Verdict {
  const doc = parseDocument(parseSign1(evidence).payload);
  const r = opensslVerify({ anchor: file(anchorPem), untrusted: file(doc.cabundle.map(pem).join('')), leaf: file(pem(doc.certificate)) }, now);
  if (r.status === 0) return 'ok';
  return /certificate has expired|certificate is not yet valid/.test(r.out) ? 'expired' : 'refused';
}

/** The plugin's verdict on the same chain (cold), with 'chain' read as refused. */
function ours(evidence: Uint8Array, anchor: Uint8Array, now: Date): Verdict {
  verifiedChains.clear();
  const doc = parseDocument(parseSign1(evidence).payload);
  const outcome = onlyEvidenceErrors(() => trustedChain(doc.certificate, doc.cabundle, [anchor], now));
  if (!refused(outcome)) return 'ok';
  return outcome.reason === 'expired' ? 'expired' : 'refused';
}

function mockRoot(): Uint8Array {
  return parseDocument(parseSign1(MARLIN.document()).payload).cabundle[0]!;
}

beforeAll(async () => {
  openssl(['version']);
  pki = await makePki();
  stranger = await makePki(SYNTH_VALIDITY, 'CN=test.nitro-enclaves, O=Covenant tests');
  // One CA deeper than the intermediate's pathlen 0 allows.
  const deeper = await issue(pki.intermediate, 'CN=one CA too many', SYNTH_VALIDITY, { ca: true, curve: 'P-384' });
  const leaf = await issue(deeper, 'CN=leaf under it', SYNTH_VALIDITY, { curve: 'P-384' });
  deepDocument = document(pki, { certificate: leaf.der, cabundle: [pki.root.der, pki.intermediate.der, deeper.der] }, { signer: leaf });
});

describe('openssl verify agrees on the chains', () => {
  const awsRoot = (): string => new X509Certificate(awsRootPem()).toString();
  const cases: [string, () => Uint8Array, () => Uint8Array, Date, Verdict][] = [
    ['the real chain at the vector time', () => REAL.document(), () => awsRootPem(), REAL.now, 'ok'],
    ['the real chain at the signing certificate notBefore', () => REAL.document(), () => awsRootPem(), REAL.signerNotBefore, 'ok'],
    ['the real chain a second before its notAfter', () => REAL.document(), () => awsRootPem(), new Date(REAL.signerNotAfter.getTime() - 1000), 'ok'],
    ['the real chain a second after its notAfter', () => REAL.document(), () => awsRootPem(), new Date(REAL.signerNotAfter.getTime() + 1000), 'expired'],
    ['the real chain today', () => REAL.document(), () => awsRootPem(), REAL.today, 'expired'],
    ['the real chain a minute before it existed', () => REAL.document(), () => awsRootPem(), new Date(REAL.signerNotBefore.getTime() - 60_000), 'expired'],
    ['the real chain under a throwaway root', () => REAL.document(), () => pki.root.der, REAL.now, 'refused'],
    ['the marlin mock chain under the AWS root', () => MARLIN.document(), () => awsRootPem(), MARLIN.now, 'refused'],
    ['the marlin mock chain under its own root', () => MARLIN.document(), mockRoot, MARLIN.now, 'ok'],
    ['a synthetic chain under its root', () => document(pki), () => pki.root.der, SYNTH_NOW, 'ok'],
    ['a synthetic chain after it expired', () => document(pki), () => pki.root.der, new Date('2026-06-01T00:00:00Z'), 'expired'],
    ['a synthetic chain under the AWS root', () => document(pki), () => awsRootPem(), SYNTH_NOW, 'refused'],
    ['a synthetic chain under a look-alike root of the same name', () => document(pki), () => stranger.root.der, SYNTH_NOW, 'refused'],
    ['a synthetic chain one CA deeper than pathlen 0 allows', () => deepDocument, () => pki.root.der, SYNTH_NOW, 'refused'],
  ];

  it.each(cases)('%s', (_label, evidence, anchor, now, expected) => {
    const anchorBytes = anchor();
    const anchorPem = anchorBytes[0] === 0x30 ? pem(anchorBytes) : new X509Certificate(anchorBytes).toString();
    expect(theirs(evidence(), anchorPem, now)).toBe(expected);
    expect(ours(evidence(), anchorBytes, now)).toBe(expected);
  });

  it('differs at exactly notAfter, a known boundary: RFC 5280 (and we) include it, OpenSSL does not', () => {
    // RFC 5280 §4.1.2.5: valid "from notBefore through notAfter, inclusive"; OpenSSL's
    // check_time counts a certificate as expired once notAfter <= now. One second apart.
    expect(theirs(REAL.document(), awsRoot(), REAL.signerNotAfter)).toBe('expired');
    expect(ours(REAL.document(), awsRootPem(), REAL.signerNotAfter)).toBe('ok');
  });

  it('reads the shipped AWS root file the same way', () => {
    expect(openssl(['x509', '-in', fixturePath('aws-nitro-root-g1.pem'), '-noout', '-fingerprint', '-sha256']).out).toMatch(
      /64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B/,
    );
    expect(awsRoot()).toContain('BEGIN CERTIFICATE');
  });
});

describe('openssl dgst agrees on the COSE signature', () => {
  it.each([
    ['the real document', () => REAL.document()],
    ['the marlin document', () => MARLIN.document()],
    ['a synthetic tagged document', () => document(pki, { nonce: new Uint8Array([9, 9]) }, { tagged: true })],
  ])('%s: r‖s over Sig_structure verifies with the signing certificate key', (_label, evidence) => {
    const sign1 = parseSign1(evidence());
    const doc = parseDocument(sign1.payload);
    const signature = scratch.write(`sig${counter++}.der`, derSignatureOfP1363(sign1.signature));
    const key = file(new X509Certificate(doc.certificate).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const data = scratch.write(`tbs${counter++}.bin`, sigStructure(sign1));
    expect(opensslDigestVerify('sha384', { key, signature, data }).out).toMatch(/Verified OK/);
    const tampered = Buffer.from(sigStructure(sign1));
    tampered[tampered.length - 1]! ^= 1;
    writeFileSync(data, tampered);
    expect(opensslDigestVerify('sha384', { key, signature, data }).status).not.toBe(0);
  });
});
