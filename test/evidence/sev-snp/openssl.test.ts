import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCertificates } from '../../../src/evidence/sev-snp/certificates.js';
import { parseReport } from '../../../src/evidence/sev-snp/report.js';
import { sevSnpPlugin } from '../../../src/evidence/sev-snp/index.js';
import { fixture, MILAN_V2, VLEK_V3, xorAt } from './fixtures.js';

/**
 * Cross-checks against Debian's `openssl` CLI, an independent X.509 and ECDSA
 * implementation. Missing openssl is a failure, not a skip: the cross-check is the point.
 */

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`openssl is not runnable (${r.error.message}): install it, e.g. \`apt-get install openssl\``);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const pem = (der: Uint8Array): string => new X509Certificate(der).toString();
const unix = (d: Date): string => String(Math.floor(d.getTime() / 1000));

/** DER INTEGER of a big-endian unsigned scalar. */
function derInt(be: Uint8Array): Buffer {
  let i = 0;
  while (i < be.length - 1 && be[i] === 0) i++;
  let body = Buffer.from(be.subarray(i));
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

let dir: string;

beforeAll(() => {
  openssl(['version']);
  dir = mkdtempSync(join(tmpdir(), 'covenant-snp-openssl-'));
  const milan = loadCertificates(fixture('milan-ask-ark-asvk.pem')).certs;
  const byCn = (cn: string): Uint8Array => {
    const c = milan.find((x) => x.subjectCn === cn);
    if (!c) throw new Error(`no ${cn}`);
    return c.der;
  };
  writeFileSync(join(dir, 'ark.pem'), pem(byCn('ARK-Milan')));
  writeFileSync(join(dir, 'ask.pem'), pem(byCn('SEV-Milan')));
  writeFileSync(join(dir, 'asvk.pem'), pem(byCn('SEV-VLEK-Milan')));
  writeFileSync(join(dir, 'vcek.pem'), pem(MILAN_V2.vcek()));
  writeFileSync(join(dir, 'vlek.pem'), pem(VLEK_V3.vlek()));
  const genoa = loadCertificates(fixture('genoa-ask-ark.pem')).certs;
  writeFileSync(join(dir, 'genoa-ark.pem'), pem(genoa.find((c) => c.selfIssued)?.der ?? new Uint8Array()));
  writeFileSync(join(dir, 'genoa-ask.pem'), pem(genoa.find((c) => !c.selfIssued)?.der ?? new Uint8Array()));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const verifyArgs = (at: Date, ark: string, inter: string, leaf: string): string[] => [
  'verify',
  '-attime',
  unix(at),
  '-CAfile',
  join(dir, ark),
  '-untrusted',
  join(dir, inter),
  join(dir, leaf),
];

describe('openssl agrees on the chains', () => {
  it('Milan VCEK ← ASK ← ARK verifies at the vector time, in both', async () => {
    expect(openssl(verifyArgs(MILAN_V2.now, 'ark.pem', 'ask.pem', 'vcek.pem'))).toMatchObject({ status: 0 });
    await expect(sevSnpPlugin.verify(MILAN_V2.report(), { now: MILAN_V2.now, collateral: [MILAN_V2.vcek()] })).resolves.toBeDefined();
  });

  it('VLEK ← ASVK ← ARK verifies on 2025-06-01 and is expired today, in both', async () => {
    expect(openssl(verifyArgs(VLEK_V3.now, 'ark.pem', 'asvk.pem', 'vlek.pem')).status).toBe(0);
    const today = openssl(verifyArgs(VLEK_V3.today, 'ark.pem', 'asvk.pem', 'vlek.pem'));
    expect(today.status).not.toBe(0);
    expect(today.out).toMatch(/expired/);
    await expect(sevSnpPlugin.verify(VLEK_V3.report(), { now: VLEK_V3.today, collateral: [VLEK_V3.vlek()] })).rejects.toMatchObject({ reason: 'expired' });
  });

  it('Genoa roots do not verify the Milan VCEK, in both', async () => {
    expect(openssl(verifyArgs(MILAN_V2.now, 'genoa-ark.pem', 'genoa-ask.pem', 'vcek.pem')).status).not.toBe(0);
    await expect(
      sevSnpPlugin.verify(MILAN_V2.report(), { now: MILAN_V2.now, collateral: [MILAN_V2.vcek()], trustAnchors: [fixture('genoa-ask-ark.pem')] }),
    ).rejects.toMatchObject({ reason: 'chain' });
  });
});

describe('openssl agrees on the report signature byte conversion', () => {
  it.each([
    ['Milan v2 / VCEK', MILAN_V2.report, MILAN_V2.vcek, 'vcek.pem'],
    ['Milan v3 / VLEK', VLEK_V3.report, VLEK_V3.vlek, 'vlek.pem'],
  ] as const)('%s: r‖s as our parser reads them verify with openssl dgst', (label, report, _cert, leaf) => {
    const bytes = report();
    const parsed = parseReport(bytes);
    const r = derInt(parsed.signatureR);
    const s = derInt(parsed.signatureS);
    const sig = Buffer.concat([Buffer.from([0x30, r.length + s.length]), r, s]);
    const tag = label.replace(/\W+/g, '-');
    writeFileSync(join(dir, `${tag}.sig`), sig);
    writeFileSync(join(dir, `${tag}.bin`), bytes.subarray(0, 0x2a0));
    const pub = openssl(['x509', '-in', join(dir, leaf), '-pubkey', '-noout']);
    expect(pub.status).toBe(0);
    writeFileSync(join(dir, `${tag}.pub`), pub.out);
    const ok = openssl(['dgst', '-sha384', '-verify', join(dir, `${tag}.pub`), '-signature', join(dir, `${tag}.sig`), join(dir, `${tag}.bin`)]);
    expect(ok.out).toMatch(/Verified OK/);
    const tampered = Buffer.from(bytes.subarray(0, 0x2a0));
    xorAt(tampered, 42, 1);
    writeFileSync(join(dir, `${tag}.bad`), tampered);
    const bad = openssl(['dgst', '-sha384', '-verify', join(dir, `${tag}.pub`), '-signature', join(dir, `${tag}.sig`), join(dir, `${tag}.bad`)]);
    expect(bad.status).not.toBe(0);
  });
});
