import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url } from 'jose';
import { formatDigest } from '../../../src/core/digest.js';
import { encodeTpmEvidence, tpmPlugin, TPM_EVIDENCE_MEDIA_TYPE } from '../../../src/evidence/tpm/index.js';
import { openStore } from '../../../src/store/index.js';
import { expectedReportData } from '../../../src/verifier/binding.js';
import { ATTESTATION_MEDIA_TYPE, encodeEnvelope } from '../../../src/verifier/envelope.js';
import { createTestServer } from '../../support/control-plane.js';
import { sha256 } from './builders.js';
import { expectRefused } from '../refusal.js';

/**
 * Live test against a software TPM (swtpm + tpm2-tools). It never installs anything
 * and never skips: missing tools are a failure pointing at scripts/install-test-deps.sh.
 */

const run = promisify(execFile);
const TOOLS = [
  'swtpm', 'tpm2_createek', 'tpm2_createak', 'tpm2_readpublic', 'tpm2_quote', 'tpm2_pcrread', 'tpm2_pcrextend', 'tpm2_flushcontext', 'tpm2_checkquote',
];

function missingTools(): string[] {
  return TOOLS.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** swtpm needs two consecutive ports (command + control); the swtpm TCTI assumes port+1. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 10000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free port pair for swtpm');
}

const now = new Date('2025-01-01T00:00:00Z');
let dir = '';
let swtpmPid: number | undefined;
let env: NodeJS.ProcessEnv = {};

async function tpm(command: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(command, args, { env, timeout: 30_000 });
  // No resource manager: transient objects and sessions must be flushed or the TPM runs out of slots.
  await run('tpm2_flushcontext', ['-t'], { env });
  await run('tpm2_flushcontext', ['-s'], { env });
  return stdout;
}

async function readPcrs(indices: readonly number[]): Promise<Record<number, Uint8Array>> {
  const out = await tpm('tpm2_pcrread', `sha256:${indices.join(',')}`);
  const values: Record<number, Uint8Array> = {};
  for (const match of out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]{64})\s*$/gm)) {
    values[Number(match[1])] = new Uint8Array(Buffer.from(match[2] as string, 'hex'));
  }
  expect(Object.keys(values).map(Number)).toEqual([...indices]);
  return values;
}

interface Quote {
  readonly quote: Uint8Array;
  readonly signature: Uint8Array;
}

async function quote(ak: string, nonce: Uint8Array, tag: string): Promise<Quote> {
  const msg = join(dir, `${tag}.msg`);
  const sig = join(dir, `${tag}.sig`);
  await tpm(
    'tpm2_quote', '-c', join(dir, `${ak}.ctx`), '-l', 'sha256:0,1,2,3', '-q', Buffer.from(nonce).toString('hex'),
    '-m', msg, '-s', sig, '-o', join(dir, `${tag}.pcrs`), '-g', 'sha256',
  );
  return { quote: new Uint8Array(readFileSync(msg)), signature: new Uint8Array(readFileSync(sig)) };
}

const akPublic = (ak: string): Uint8Array => new Uint8Array(readFileSync(join(dir, `${ak}.tpmt`)));

function evidence(q: Quote, pcrs: Record<number, Uint8Array>, ak: string): Uint8Array {
  return encodeTpmEvidence({ quote: q.quote, signature: q.signature, pcrs: { sha256: pcrs }, akPublic: akPublic(ak) });
}

describe('TPM plugin: live swtpm quotes', () => {
  beforeAll(async () => {
    const missing = missingTools();
    if (missing.length > 0) {
      throw new Error(`swtpm/tpm2-tools are not installed (missing: ${missing.join(', ')}); run scripts/install-test-deps.sh as root`);
    }
    // Absolute: with --daemon swtpm changes directory, and a relative state dir breaks its NVRAM.
    dir = mkdtempSync(join(tmpdir(), 'covenant-swtpm-'));
    const state = join(dir, 'state');
    execFileSync('mkdir', [state]);
    let started = false;
    for (let attempt = 0; attempt < 5 && !started; attempt++) {
      const port = await freePortPair();
      try {
        await run('swtpm', [
          'socket', '--tpm2', '--tpmstate', `dir=${state}`,
          '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
          '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
          '--flags', 'not-need-init,startup-clear', '--daemon', '--pid', `file=${join(dir, 'swtpm.pid')}`,
        ]);
        started = true;
        swtpmPid = Number(readFileSync(join(dir, 'swtpm.pid'), 'utf8').trim());
        env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` };
      } catch {
        // Lost a race for the port; try another pair.
      }
    }
    if (!started) throw new Error('swtpm did not start');
    await tpm('tpm2_createek', '-c', join(dir, 'ek.ctx'), '-G', 'ecc', '-u', join(dir, 'ek.pub'));
    for (const [name, alg, scheme] of [['ak', 'ecc', 'ecdsa'], ['akrsa', 'rsa', 'rsassa']] as const) {
      await tpm(
        'tpm2_createak', '-C', join(dir, 'ek.ctx'), '-c', join(dir, `${name}.ctx`), '-G', alg, '-g', 'sha256', '-s', scheme,
        '-u', join(dir, `${name}.tpmt`), '-f', 'tpmt', '-n', join(dir, `${name}.name`),
      );
      await tpm('tpm2_readpublic', '-c', join(dir, `${name}.ctx`), '-f', 'pem', '-o', join(dir, `${name}.pem`));
    }
  });

  afterAll(() => {
    if (swtpmPid !== undefined) {
      try {
        process.kill(swtpmPid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('pins the ECC AK by SHA-256 of its TPMT_PUBLIC, which is its TPM Name', () => {
    const name = readFileSync(join(dir, 'ak.name'));
    expect(name.subarray(0, 2).toString('hex')).toBe('000b');
    expect(name.subarray(2).equals(sha256(akPublic('ak')))).toBe(true);
  });

  it('verifies a real ECDSA quote of sha256:0,1,2,3 with the right nonce, and tpm2_checkquote agrees', async () => {
    const nonce = randomBytes(16);
    const q = await quote('ak', nonce, 'q1');
    const pcrs = await readPcrs([0, 1, 2, 3]);
    const pin = sha256(akPublic('ak'));
    const claims = await tpmPlugin.verify(evidence(q, pcrs, 'ak'), { now, trustAnchors: [pin], expectedNonce: nonce });
    expect(claims.reportData).toBe(nonce.toString('hex'));
    expect(Object.keys(claims.config)).toEqual(['pcr0', 'pcr1', 'pcr2', 'pcr3']);
    expect(claims.details).toMatchObject({ signatureScheme: 'ecdsa-sha256', ak: { trust: 'pinned', keyType: 'ec' } });
    // Differential oracle: tpm2-tools' own verifier accepts the same quote, PCRs and nonce.
    await run('tpm2_checkquote', [
      '-u', join(dir, 'ak.pem'), '-m', join(dir, 'q1.msg'), '-s', join(dir, 'q1.sig'), '-f', join(dir, 'q1.pcrs'),
      '-g', 'sha256', '-q', nonce.toString('hex'),
    ]);
    await expectRefused(tpmPlugin.verify(evidence(q, pcrs, 'ak'), { now, trustAnchors: [pin], expectedNonce: randomBytes(16) }), 'nonce');
    await expectRefused(tpmPlugin.verify(evidence(q, pcrs, 'ak'), { now, trustAnchors: [sha256(akPublic('akrsa'))] }), 'chain');
  });

  it('verifies a real RSASSA quote from an RSA AK', async () => {
    const nonce = randomBytes(8);
    const q = await quote('akrsa', nonce, 'q2');
    const pcrs = await readPcrs([0, 1, 2, 3]);
    const claims = await tpmPlugin.verify(evidence(q, pcrs, 'akrsa'), { now, trustAnchors: [sha256(akPublic('akrsa'))], expectedNonce: nonce });
    expect(claims.details).toMatchObject({ signatureScheme: 'rsassa-sha256', ak: { keyType: 'rsa' } });
  });

  it("refuses an old quote with PCR values read after tpm2_pcrextend: 'measurement-mismatch'", async () => {
    const nonce = randomBytes(16);
    const pin = sha256(akPublic('ak'));
    const before = await quote('ak', nonce, 'q3');
    const pcrsBefore = await readPcrs([0, 1, 2, 3]);
    await expect(tpmPlugin.verify(evidence(before, pcrsBefore, 'ak'), { now, trustAnchors: [pin], expectedNonce: nonce })).resolves.toBeDefined();

    await tpm('tpm2_pcrextend', `2:sha256=${randomBytes(32).toString('hex')}`);
    const pcrsAfter = await readPcrs([0, 1, 2, 3]);
    expect(Buffer.from(pcrsAfter[2] as Uint8Array).equals(Buffer.from(pcrsBefore[2] as Uint8Array))).toBe(false);
    await expectRefused(
      tpmPlugin.verify(evidence(before, pcrsAfter, 'ak'), { now, trustAnchors: [pin], expectedNonce: nonce }),
      'measurement-mismatch',
    );

    const after = await quote('ak', nonce, 'q4');
    const claims = await tpmPlugin.verify(evidence(after, pcrsAfter, 'ak'), { now, trustAnchors: [pin], expectedNonce: nonce });
    expect(claims.config.pcr2?.hex).toBe(Buffer.from(pcrsAfter[2] as Uint8Array).toString('hex'));
  });

  it('attests over the session API: binds SHA-256(nonce ‖ instance key SPKI) as qualifying data: affirmed, and a bare nonce refused', async () => {
    const data = mkdtempSync(join(tmpdir(), 'covenant-swtpm-store-'));
    const store = await openStore({ dataDir: data });
    try {
      const pin = sha256(akPublic('ak'));
      const server = await createTestServer(store, () => new Date(), { verifiers: [{ plugin: tpmPlugin, trustAnchors: [pin] }] });
      const pcrs = await readPcrs([0, 1, 2, 3]);
      const probe = await tpmPlugin.verify(evidence(await quote('ak', randomBytes(8), 'probe'), pcrs, 'ak'), { now, trustAnchors: [pin] });
      for (const [url, body] of [
        ['/v1/workloads', { name: 'tpm/host' }],
        ['/v1/workloads/tpm%2Fhost/releases', { version: '1.0.0', class: 'tpm', measurements: probe.measurements.map(formatDigest) }],
        ['/v1/workloads/tpm%2Fhost/policy', { accept: ['1.0.0'], reason: 'measured boot of this host' }],
      ] as const) {
        expect((await server.signed('POST', url, body)).statusCode).toBe(201);
      }
      const instanceKey = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
      const attest = async (qualifying: (nonce: Uint8Array) => Uint8Array, tag: string) => {
        const session = await server.app.inject({ method: 'POST', url: '/challenge-response/v1/newSession?workload=tpm%2Fhost' });
        const nonce = base64url.decode((session.json() as { nonce: string }).nonce);
        const q = await quote('ak', qualifying(nonce), tag);
        const payload = Buffer.from(encodeEnvelope({ evidenceType: TPM_EVIDENCE_MEDIA_TYPE, evidence: evidence(q, await readPcrs([0, 1, 2, 3]), 'ak'), instanceKey, collateral: [] }));
        return server.app.inject({ method: 'POST', url: `/challenge-response/v1/${String(session.headers.location)}`, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload });
      };

      const bound = await attest((nonce) => expectedReportData('tpm', nonce, instanceKey), 'bound');
      expect(bound.statusCode, bound.body).toBe(200);
      expect(bound.json()).toMatchObject({ appraisal: { status: 'affirming', release: { version: '1.0.0' } } });
      const token = (bound.json() as { result: string }).result;
      expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).submods['tpm/host']['covenant.tee']).toBe('tpm');

      const bare = await attest((nonce) => nonce, 'bare');
      expect(bare.statusCode, bare.body).toBe(422);
      expect((bare.json() as { type: string }).type).toBe('https://covenant.dev/problems/evidence-invalid');
      await server.app.close();
    } finally {
      await store.close();
      rmSync(data, { recursive: true, force: true });
    }
  });
});
