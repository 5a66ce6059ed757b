/**
 * The deployment files in the repository: the systemd unit is valid to systemd, and the
 * command lines the unit and the container image start the server with do start it,
 * with their own configuration files (paths moved to a temporary folder, the port to a
 * free one). Neither systemd as init nor a container runtime exists on the test
 * machine, so the service and the image themselves are not started here. And TLS
 * terminated in front of the server as docs/operations.md#tls says works for the CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLI, runCli, startServerProcess } from '../support/process.js';

const run = promisify(execFile);
const repo = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** `Key=value` lines of a unit, in order (a key may repeat). */
function unitSettings(unit: string): [string, string][] {
  return unit
    .split('\n')
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
}

/** Dockerfile instructions with their continuation lines joined, comments dropped. */
function dockerInstructions(dockerfile: string): { keyword: string; args: string }[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword, ...rest] = line.trim().split(/\s+/);
      return { keyword: keyword!, args: rest.join(' ') };
    });
}

/** A copy of a shipped configuration file with the data directory and listen address replaced. */
async function relocatedConfig(shipped: string, into: string): Promise<{ file: string; original: Record<string, unknown> }> {
  const original = JSON.parse(await readFile(repo(shipped), 'utf8')) as Record<string, unknown>;
  const file = join(into, 'covenant.json');
  await writeFile(file, JSON.stringify({ ...original, 'data-dir': join(into, 'data'), listen: '127.0.0.1:0' }));
  return { file, original };
}

describe('deployment files', () => {
  let root: string;
  let n = 0;
  const scratch = async (): Promise<string> => {
    const dir = join(root, String(++n));
    await mkdir(dir);
    return dir;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-deploy-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('the systemd unit passes systemd-analyze verify, which would name a bad setting', async () => {
    const analyze = '/usr/bin/systemd-analyze';
    if (!existsSync(analyze)) throw new Error('systemd-analyze is missing: run scripts/install-test-deps.sh');
    const dir = await scratch();
    // verify checks that the program exists; here it is the repository's.
    const unit = (await readFile(repo('deploy/covenant.service'), 'utf8')).replace('/usr/local/bin/covenant ', `${CLI} `);
    await writeFile(join(dir, 'covenant.service'), unit);
    const verified = await run(analyze, ['verify', join(dir, 'covenant.service')]);
    expect(verified.stdout + verified.stderr).toBe('');
    await writeFile(join(dir, 'broken.service'), unit.replace('ProtectSystem=strict', 'ProtectSystem=stricter'));
    const broken = await run(analyze, ['verify', join(dir, 'broken.service')]);
    expect(broken.stderr).toMatch(/Failed to parse protect system value/);
  });

  it("the systemd unit's ExecStart starts the server on its configuration file and state directory", async () => {
    const settings = unitSettings(await readFile(repo('deploy/covenant.service'), 'utf8'));
    const setting = (key: string): string[] => settings.filter(([k]) => k === key).map(([, v]) => v);
    expect(setting('ExecStart')).toEqual(['/usr/local/bin/covenant serve --config /etc/covenant/covenant.json']);
    expect(setting('Restart')).toEqual(['on-failure']);
    expect(setting('RestartPreventExitStatus')).toEqual(['2']);
    for (const [key, value] of [
      ['User', 'covenant'],
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['StateDirectory', 'covenant'],
      ['ConfigurationDirectory', 'covenant'],
    ]) {
      expect(setting(key!), key).toEqual([value]);
    }
    const dir = await scratch();
    const { file, original } = await relocatedConfig('deploy/covenant.json', dir);
    // The server writes only where the unit lets it: its state directory.
    expect(original['data-dir']).toBe('/var/lib/covenant');
    expect(setting('Environment')).toEqual(['COVENANT_HOME=/var/lib/covenant/home']);
    expect(original.listen).toBe('127.0.0.1:7800');

    const server = await startServerProcess(['--config', file], { COVENANT_HOME: join(dir, 'home') }, { exact: true });
    try {
      // Printed just after the line startServerProcess waits for.
      await vi.waitFor(() => expect(server.output()).toContain(`data directory ${join(dir, 'data')} `));
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it("the image's ENTRYPOINT starts the server on the image's configuration file, and its HEALTHCHECK passes", async () => {
    const instructions = dockerInstructions(await readFile(repo('Dockerfile'), 'utf8'));
    const last = (keyword: string): string => instructions.filter((i) => i.keyword === keyword).at(-1)!.args;
    const entrypoint = JSON.parse(last('ENTRYPOINT')) as string[];
    expect(entrypoint).toEqual(['covenant', 'serve', '--config', '/etc/covenant/covenant.json']);
    expect(instructions.some((i) => i.keyword === 'RUN' && i.args.includes('ln -s /opt/covenant/bin/covenant.js /usr/local/bin/covenant'))).toBe(true);
    expect(instructions).toContainEqual({ keyword: 'COPY', args: 'deploy/container.json /etc/covenant/covenant.json' });
    expect(last('USER')).toBe('node');
    const { file, original } = await relocatedConfig('deploy/container.json', await scratch());
    // The volume is the data directory, the exposed port the one listened on, the home inside the volume.
    expect(JSON.parse(last('VOLUME'))).toEqual([original['data-dir']]);
    expect(original.listen).toBe(`0.0.0.0:${last('EXPOSE')}`);
    expect(last('ENV')).toMatch(/COVENANT_HOME=\/var\/lib\/covenant\/home/);
    const healthcheck = JSON.parse(last('HEALTHCHECK').replace(/^.*?CMD /, '')) as string[];
    expect(healthcheck.slice(0, 2)).toEqual(['node', '-e']);
    expect(healthcheck[2]).toContain(`http://127.0.0.1:${last('EXPOSE')}/healthz`);

    const home = join(file, '..', 'home');
    const server = await startServerProcess(entrypoint.slice(2, -1).concat(file), { COVENANT_HOME: home }, { exact: true });
    try {
      const port = new URL(server.url).port;
      await expect(run(process.execPath, ['-e', healthcheck[2]!.replace(`127.0.0.1:${last('EXPOSE')}`, `127.0.0.1:${port}`)])).resolves.toBeDefined();
    } finally {
      await server.stop();
    }
    // Once the server is gone, the same check fails.
    await expect(run(process.execPath, ['-e', healthcheck[2]!.replace(`127.0.0.1:${last('EXPOSE')}`, `127.0.0.1:${new URL(server.url).port}`)])).rejects.toMatchObject({ code: 1 });
  });

  it('TLS terminated by a proxy that keeps Host: signed CLI commands pass, trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
    const dir = await scratch();
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert]);
    const home = join(dir, 'home');
    const server = await startServerProcess(['--data-dir', join(dir, 'data')], { COVENANT_HOME: home });
    const upstream = new URL(server.url);
    let keepHost = true;
    // What nginx with `proxy_set_header Host $http_host` does (or, with keepHost off, without it).
    const proxy = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      const headers = { ...req.headers, host: keepHost ? req.headers.host : upstream.host };
      const forwarded = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const env = { COVENANT_HOME: home, COVENANT_SERVER: `https://127.0.0.1:${(proxy.address() as { port: number }).port}`, NODE_EXTRA_CA_CERTS: cert };
      const created = await runCli(['workload', 'create', 'tls/through-proxy'], env);
      expect(created.code, created.stderr).toBe(0);
      const untrusted = await runCli(['workload', 'list'], { ...env, NODE_EXTRA_CA_CERTS: '' });
      expect(untrusted.code).toBe(3);
      expect(untrusted.stderr).toMatch(/self-signed certificate/);
      keepHost = false;
      const rewritten = await runCli(['workload', 'create', 'tls/host-rewritten'], env);
      expect(rewritten.code).toBe(1);
      expect(rewritten.stderr).toMatch(/signature-invalid/);
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await server.stop();
    }
  });
});
