import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSimPlatform, loadSimRoot, simFiles } from '../../src/cli/commands/sim.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { issueEar, type EarClaims, type EarInput } from '../../src/verifier/ear.js';
import { signingPublicJwk, thumbprintOf } from '../../src/verifier/token-keys.js';
import { asyncRejection } from '../support/errors.js';
import { CLI, runCli, startServerProcess, type ServerProcess } from '../support/process.js';

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const oneLine = (stderr: string): string[] => stderr.trim().split('\n');

describe('covenant sim init (real binary)', () => {
  let root: string;
  // No server exists: a command that tried to reach one would fail with exit 3.
  const env = { COVENANT_SERVER: 'http://127.0.0.1:9', COVENANT_HOME: '/nonexistent-covenant-home' };
  const init = (...args: string[]) => runCli(['sim', 'init', ...args], env);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-sim-cli-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('has --help without --server', async () => {
    const help = await init('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: covenant sim init /);
    expect(help.stdout).not.toContain('--server');
  });

  it('writes the vendor root and platform as PEM, keys 0600 in a 0700 directory, with a warning', async () => {
    const dir = join(root, 'a', 'sim');
    const result = await init('--dir', dir, '--platform-id', 'rack1.node-7');
    expect(result.code).toBe(0);
    expect(oneLine(result.stderr)).toEqual([expect.stringMatching(/^WARNING: the simulated TEE offers NO SECURITY/)]);
    const files = simFiles(dir);
    for (const path of Object.values(files)) expect(result.stdout).toContain(path);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(files.rootKey)).toBe(0o600);
    expect(await mode(files.platformKey)).toBe(0o600);
    expect(await readFile(files.rootCertificate, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(await readFile(files.platformKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('refuses to overwrite with one line and exit 1, and replaces everything with --force', async () => {
    const dir = join(root, 'b');
    expect((await init('--dir', dir)).code).toBe(0);
    const files = simFiles(dir);
    const before = await readFile(files.platformKey, 'utf8');

    const again = await init('--dir', dir);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toEqual([`covenant: ${files.rootCertificate} already exists: use --force to replace the simulated TEE`]);
    expect(await readFile(files.platformKey, 'utf8')).toBe(before);

    const forced = await init('--dir', dir, '--force');
    expect(forced.code).toBe(0);
    expect(await readFile(files.platformKey, 'utf8')).not.toBe(before);
    expect(await mode(files.platformKey)).toBe(0o600);
    expect((await loadSimPlatform(dir)).id).toBe('sim-platform');
  });

  it('refuses a bad platform id before writing anything', async () => {
    const dir = join(root, 'c');
    const result = await init('--dir', dir, '--platform-id', 'Not Valid');
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toEqual([expect.stringMatching(/^covenant: platformId: must match/)]);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('writes files loadSimPlatform and loadSimRoot read back: a SimulatedTee report verifies against that root', async () => {
    const dir = join(root, 'd');
    expect((await init('--dir', dir, '--platform-id', 'dev-box')).code).toBe(0);
    const platform = await loadSimPlatform(dir);
    const anchor = await loadSimRoot(dir);
    expect(anchor).toBeInstanceOf(Uint8Array);
    const tee = new SimulatedTee(platform, { measurement: `sha384:${'ab'.repeat(48)}`, svn: 1, debug: false, configDigests: {} });
    const spki = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
    const claims = await simPlugin.verify(tee.report(new Uint8Array(32).fill(1), spki), { now: new Date(), trustAnchors: [anchor!] });
    expect(claims).toMatchObject({ teeClass: 'sim', details: { platformId: 'dev-box' } });

    const missing = join(root, 'missing');
    const error = await asyncRejection(loadSimPlatform(missing));
    expect(error.type).toBe('bad-request');
    expect(error.message).toBe(`no simulated TEE in ${missing}: run \`covenant sim init\` first`);
    expect(await loadSimRoot(missing)).toBeUndefined();
  });
});

describe('covenant token verify against a real server', () => {
  let root: string;
  let server: ServerProcess;
  let env: NodeJS.ProcessEnv;
  let mint: (overrides?: Partial<EarInput>) => Promise<string>;
  let kid: string;
  const NONCE = new Uint8Array(16).fill(0x5a);
  const instanceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JsonWebKey;
  const verify = (...args: string[]) => runCli(['token', 'verify', ...args], env);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-token-cli-'));
    env = { COVENANT_HOME: join(root, 'home') };
    server = await startServerProcess(['--data-dir', join(root, 'data')], env);
    env = { ...env, COVENANT_SERVER: server.url };
    // The key the server signs its tokens with, so the minted token is one it could have issued.
    const tokenKey = createPrivateKey(await readFile(join(root, 'data', 'keys', 'default', 'token.pem'), 'utf8'));
    kid = await thumbprintOf(signingPublicJwk(tokenKey));
    mint = (overrides = {}) =>
      issueEar(
        {
          nonce: NONCE,
          verifierId: { developer: 'covenant', build: 'test' },
          workload: 'payments/ingest',
          status: 'affirming',
          trustVector: { 'instance-identity': 0, executables: 2, 'runtime-opaque': 2 },
          policyId: 'f'.repeat(64),
          matchedRelease: { version: '1.0.0', digest: 'e'.repeat(64) },
          instanceKey,
          ...overrides,
        },
        tokenKey,
        new Date(),
      );
  });

  afterAll(async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('prints a summary of a valid token, and its claims with --json', async () => {
    const token = await mint();
    const human = await verify(token, '--nonce', Buffer.from(NONCE).toString('hex'), '--workload', 'payments/ingest');
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^kid +${kid}$`, 'm'));
    expect(human.stdout).toMatch(/^issued +\d{4}-\d{2}-\d{2}T[\d:.]+Z$/m);
    expect(human.stdout).toMatch(/^expires +\d{4}-\d{2}-\d{2}T[\d:.]+Z$/m);
    expect(human.stdout).toMatch(new RegExp(`^instance key +${await thumbprintOf(instanceKey)} `, 'm'));
    expect(human.stdout).toMatch(/^workload +payments\/ingest$/m);
    expect(human.stdout).toMatch(/^status +affirming$/m);
    expect(human.stdout).toMatch(new RegExp(`^policy +${'f'.repeat(64)}$`, 'm'));
    expect(human.stdout).toMatch(/^release +1\.0\.0 \(e+\)$/m);
    expect(human.stdout).toMatch(/^trust vector +instance-identity=0 executables=2 runtime-opaque=2$/m);

    const json = await verify(token, '--json');
    expect(json.code).toBe(0);
    const claims = JSON.parse(json.stdout) as EarClaims;
    expect(claims.eat_nonce).toBe(base64url.encode(NONCE));
    expect(claims.submods['payments/ingest']).toMatchObject({ 'ear.status': 'affirming', 'covenant.release': { version: '1.0.0' } });
  });

  it('reads the token from standard input for -', async () => {
    const token = await mint();
    // runCli closes standard input; this one case needs a pipe.
    const piped = spawnSync(process.execPath, [CLI, 'token', 'verify', '-', '--json'], { env: { ...process.env, ...env }, input: `${token}\n`, encoding: 'utf8' });
    expect(piped.stderr).toBe('');
    expect(piped.status).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ submods: { 'payments/ingest': { 'ear.status': 'affirming' } } });
  });

  it('refuses a flipped signature byte, an expired token, a wrong nonce and a missing workload: one line, exit 1', async () => {
    const token = await mint();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const bytes = base64url.decode(signature);
    bytes[10] = bytes[10]! ^ 0x01;
    const cases: [string[], RegExp][] = [
      [[`${header}.${payload}.${base64url.encode(bytes)}`], /^covenant: token invalid: EAR signature does not verify$/],
      [[token, '--at', '2099-01-01T00:00:00Z'], /^covenant: token invalid: EAR expired \(exp \d+, now 4070908800\)$/],
      [[token, '--nonce', '00'.repeat(16)], /^covenant: token invalid: EAR nonce does not match the expected nonce$/],
      [[token, '--workload', 'payments/other'], /^covenant: token invalid: EAR carries no appraisal for workload payments\/other$/],
      [['not-a-token'], /^covenant: token invalid: EAR is not a compact JWS$/],
    ];
    for (const [args, message] of cases) {
      const result = await verify(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stdout).toBe('');
      expect(oneLine(result.stderr)).toEqual([expect.stringMatching(message)]);
    }
  });

  it('refuses a token from a key the server does not publish', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const foreign = await issueEar(
      { nonce: NONCE, verifierId: { developer: 'x', build: 'y' }, workload: 'w', status: 'affirming', trustVector: {}, policyId: 'p', instanceKey },
      privateKey,
      new Date(),
    );
    const result = await verify(foreign);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toEqual([expect.stringMatching(/^covenant: token invalid: EAR signed by unknown key \(kid [\w-]+\)$/)]);
  });

  it('takes a malformed --at as a usage error (exit 2), and an unreachable server as exit 3', async () => {
    const token = await mint();
    expect((await verify(token, '--at', 'tomorrow')).code).toBe(2);
    const unreachable = await runCli(['token', 'verify', token], { ...env, COVENANT_SERVER: 'http://127.0.0.1:9' });
    expect(unreachable.code).toBe(3);
    expect(oneLine(unreachable.stderr)).toEqual([expect.stringMatching(/^covenant: cannot reach the server at http:\/\/127\.0\.0\.1:9/)]);
  });
});
