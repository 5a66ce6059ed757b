import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/covenant.js', import.meta.url));

/** A hung command or server is killed and fails its test, rather than holding the test file open. */
const CLI_DEADLINE_MS = 120_000;
const STOP_DEADLINE_MS = 15_000;

function requireBuild(): void {
  if (!existsSync(new URL('../../dist/src/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
  }
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<number | NodeJS.Signals | null>;
  /** SIGTERM, as an operator would stop it; SIGKILL and an error if it has not exited 15 s later. */
  stop(): Promise<void>;
}

/**
 * Starts `covenant serve` as a real process and waits until it prints its URL; with
 * `exact`, on `args` alone rather than on a free port at log level warn.
 */
export async function startServerProcess(args: readonly string[], env: NodeJS.ProcessEnv, options: { readonly exact?: boolean } = {}): Promise<ServerProcess> {
  requireBuild();
  const child = spawn(process.execPath, [CLI, 'serve', ...(options.exact === true ? [] : ['--listen', '127.0.0.1:0', '--log-level', 'warn']), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /covenant listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited (${String(code)}) before listening:\n${output}`)));
    setTimeout(() => reject(new Error(`server did not start within 30 s:\n${output}`)), 30_000).unref();
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_DEADLINE_MS).unref());
    if ((await Promise.race([exited, deadline])) === 'late') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`the server did not exit within ${STOP_DEADLINE_MS / 1000} s of SIGTERM:\n${output}`);
    }
  };
  return { child, url, output: () => output, exited, stop };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `covenant` command; one still running after two minutes is killed and fails. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  requireBuild();
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let killed = false;
  const deadline = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, CLI_DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(deadline);
  if (killed) throw new Error(`covenant ${args.join(' ')} did not finish within ${CLI_DEADLINE_MS / 1000} s; killed:\n${stdout}${stderr}`);
  return { code, stdout, stderr };
}

/** A `covenant serve` process of its own, trusting a simulated vendor, driven through the real CLI. */
export interface SimDeployment {
  /** The temporary folder that holds the home, the data directory and whatever a test writes. */
  readonly root: string;
  readonly server: ServerProcess;
  /** `COVENANT_HOME` and `COVENANT_SERVER` for this deployment. */
  readonly env: NodeJS.ProcessEnv;
  /** The simulated vendor made by `covenant sim init`, in the server's data directory. */
  readonly simDir: string;
  cli(...args: string[]): Promise<CliResult>;
  stop(): Promise<void>;
}

async function mustSucceed(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const result = await runCli(args, env);
  if (result.code !== 0) throw new Error(`covenant ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}`);
}

/**
 * A fresh temporary home and data directory, `covenant sim init` in it, a server started
 * on it (with `serverArgs`), then each `setup` command run through the CLI, which must
 * succeed.
 */
export async function startSimDeployment(name: string, options: { readonly serverArgs?: readonly string[]; readonly setup?: readonly (readonly string[])[] } = {}): Promise<SimDeployment> {
  const root = await mkdtemp(join(tmpdir(), `covenant-${name}-`));
  const home = { COVENANT_HOME: join(root, 'home') };
  const simDir = join(root, 'data', 'sim');
  await mustSucceed(['sim', 'init', '--dir', simDir], home);
  const server = await startServerProcess(['--data-dir', join(root, 'data'), ...(options.serverArgs ?? [])], home);
  const env = { ...home, COVENANT_SERVER: server.url };
  for (const args of options.setup ?? []) await mustSucceed(args, env);
  return {
    root,
    server,
    env,
    simDir,
    cli: (...args) => runCli(args, env),
    async stop() {
      try {
        await server.stop();
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}
