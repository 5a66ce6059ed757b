/**
 * Every shell block of README.md and docs/*.md, run, so that the docs stay true.
 *
 * Which blocks run (test/docs/shell-blocks.ts): fences labelled sh, bash, shell or
 * console; unlabelled transcripts (lines `$ command` followed by sample output); and
 * unlabelled blocks whose every line is a command (covenant, npx, npm, curl, …) and
 * not a usage synopsis (`<placeholder>`, `[--option]`). json, ts, yaml, text
 * diagrams and synopses are not run. A block that cannot run here is preceded by
 * `<!-- docs-test: skip — why -->`; a skip without a reason fails. A block preceded by
 * `<!-- docs-test: file NAME -->` (a script the doc then runs) is written to NAME.
 *
 * How: the blocks of one document run in order in one bash session (variables carry
 * over), in a scratch home (HOME, so ~/.config/covenant is the CLI's home) whose
 * `covenant` directory is the working directory, with `test/` linked to the
 * repository's so fixture paths resolve. `covenant` and `npx covenant` run
 * bin/covenant.js; `covenant serve` and `npm start` start the built server in the
 * background and return once it listens (or with its refusal); `npm ci` and
 * `npm test` do nothing (this test is part of that run). The doc's ports
 * 127.0.0.1:7800–7809 are free ports here (`covenant init` without --server pins the
 * one that stands for 7800, the default), /srv and /backup are scratch directories; the
 * PostgreSQL host db.internal is the local server (user postgres, trust auth), and the
 * database names a document gives get a suffix of its run (the run drops them after);
 * output is mapped back before comparing. Two documents run at a time. Documents that never start a server get
 * one before their first block. A document that says `<!-- docs-test: continues
 * other.md -->` (a walkthrough that builds on another's) runs other.md's commands first.
 *
 * What is asserted: each command exits 0, or non-zero when its sample output shows a
 * refusal (`covenant: …` or `error: …`); and every sample line appears in the output
 * (stdout and stderr together), in order, after normalising times, ids, digests and
 * numbers (shell-blocks.ts normalise) — `…` stands for anything.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { continues, DOC_DB_HOST, expectsFailure, extractBlocks, firstMissing, isShellBlock, mapDatabase, steps, type Step } from './shell-blocks.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const ALL_DOCS = ['README.md', ...(await readdir(join(REPO, 'docs'))).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
/** The documents, most commands first: the longest runs start first, so the last to end ends sooner. */
const DOCS = await byCommandsRun(ALL_DOCS);
const DOC_PORTS = Array.from({ length: 10 }, (_, i) => 7800 + i);
/** One document's run, all its commands. */
const RUN_TIMEOUT_MS = 240_000;
/**
 * Documents run side by side, this many at a time: most of a run is waiting on the
 * CLI's and the server's processes, but each is a server and a stream of node
 * processes, and the machine is shared.
 */
const PARALLEL_DOCS = 2;
let running = 0;
const queued: (() => void)[] = [];

async function inSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL_DOCS) await new Promise<void>((resolve) => queued.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    queued.shift()?.();
  }
}

const SHIMS: Record<string, string> = {
  covenant: `#!/usr/bin/env bash
# The built CLI; \`covenant serve\` starts the server in the background and returns once it listens.
# \`init\` pins the default server, http://127.0.0.1:7800, in the profile: here that port is $DOCS_PORT_7800.
if [ "$1" = init ]; then
  case " $* " in *" --server "*) ;; *) set -- "$@" --server "http://127.0.0.1:$DOCS_PORT_7800" ;; esac
fi
if [ "$1" != serve ]; then exec node "$DOCS_REPO/bin/covenant.js" "$@"; fi
shift
args=("$@")
case " $* " in *" --listen "*) ;; *) args+=(--listen "127.0.0.1:$DOCS_PORT_7800") ;; esac
mkdir -p "$DOCS_ROOT/servers"
n=$(ls "$DOCS_ROOT/servers" | wc -l)
log="$DOCS_ROOT/servers/$n.log"
node "$DOCS_REPO/bin/covenant.js" serve "\${args[@]}" > "$log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$DOCS_ROOT/servers/$n.pid"
for _ in $(seq 1 600); do
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; code=$?; grep -v '^{' "$log"; exit "$code"; fi
  if grep -q '^covenant listening on' "$log"; then grep -v '^{' "$log"; exit 0; fi
  sleep 0.1
done
cat "$log"; echo "docs test: the server did not listen within 60 s"; exit 1
`,
  npx: `#!/usr/bin/env bash
if [ "$1" = covenant ]; then shift; exec covenant "$@"; fi
echo "docs test: only npx covenant is supported, not npx $1" >&2; exit 127
`,
  npm: `#!/usr/bin/env bash
case "$1" in
  ci|test) exit 0 ;;   # installed already; the tests are this run
  start) exec covenant serve ;;
esac
echo "docs test: npm $1 is not supported" >&2; exit 127
`,
};

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Scratch {
  readonly root: string;
  readonly home: string;
  readonly ports: readonly number[];
  /** Appended to every PostgreSQL database name the doc uses, so that runs never share a database. */
  readonly dbSuffix: string;
}

/** The docs' PostgreSQL server (DOC_DB_HOST) is the local one here: user postgres, trust auth. */
const LOCAL_DB_HOST = '127.0.0.1';

/** The doc's addresses and system paths, as this run has them. */
function toScratch(command: string, scratch: Scratch): string {
  return mapDatabase(command, LOCAL_DB_HOST, scratch.dbSuffix)
    .replace(/(127\.0\.0\.1|localhost):(780\d)\b/g, (_, host: string, port: string) => `${host}:${scratch.ports[Number(port) - 7800]}`)
    .replace(/(^|[\s='"])\/(srv|backup)\//g, `$1${scratch.root}/$2/`);
}

/** The run's output, as the doc would show it. */
function fromScratch(output: string, scratch: Scratch): string {
  let text = output.split(scratch.home).join('/home/alice').replace(new RegExp(`${scratch.root}/(srv|backup)/`, 'g'), '/$1/');
  text = text.split(scratch.dbSuffix).join('').split(`${LOCAL_DB_HOST}:5432`).join(`${DOC_DB_HOST}:5432`);
  scratch.ports.forEach((port, i) => (text = text.split(`127.0.0.1:${port}`).join(`127.0.0.1:${7800 + i}`)));
  return text;
}

interface Located extends Step {
  readonly doc: string;
}

function script(located: readonly Located[], scratch: Scratch, startsServer: boolean): string {
  const lines = ['set +e', `cd ${JSON.stringify(join(scratch.home, 'covenant'))}`];
  if (!startsServer) lines.push('covenant serve > "$DOCS_ROOT/steps/server.out" 2>&1 || exit 99');
  located.forEach((step, i) => {
    lines.push(`echo ${i} > "$DOCS_ROOT/steps/current"`, '{', toScratch(step.command, scratch), `} > "$DOCS_ROOT/steps/${i}.out" 2>&1 < /dev/null`, `echo $? > "$DOCS_ROOT/steps/${i}.rc"`);
  });
  return `${lines.join('\n')}\n`;
}

async function runBash(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [file], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function stopServers(root: string): Promise<void> {
  const dir = join(root, 'servers');
  if (!existsSync(dir)) return;
  const pids = (await readdir(dir)).filter((f) => f.endsWith('.pid'));
  for (const file of pids) {
    const pid = Number(await readFile(join(dir, file), 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone (it refused to start, or the doc stopped it).
    }
  }
  for (const file of pids) {
    const pid = Number(await readFile(join(dir, file), 'utf8'));
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Stopped.
    }
  }
}

/** The databases a document's run created (all names end in its suffix). */
function dropDatabases(suffix: string): void {
  const psql = (sql: string) => execFileSync('psql', ['-h', LOCAL_DB_HOST, '-U', 'postgres', '-d', 'postgres', '-Atc', sql], { encoding: 'utf8' });
  const names = psql(`SELECT datname FROM pg_database WHERE datname LIKE '%${suffix}'`).split('\n').filter((n) => n.endsWith(suffix));
  for (const name of names) psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) {
    await stopServers(root);
    await rm(root, { recursive: true, force: true });
  }
});

describe('shell blocks of the docs', () => {
  // A document's test waits for a slot, then runs: its timeout covers both.
  it.concurrent.each(DOCS)('%s', (doc) => inSlot(() => runDocument(doc)), (RUN_TIMEOUT_MS + 30_000) * Math.ceil(DOCS.length / PARALLEL_DOCS));
});

async function runDocument(doc: string): Promise<void> {
  const text = await readFile(join(REPO, doc), 'utf8');
  const reasonless = extractBlocks(text).filter((b) => b.skip === '').map((b) => `${doc}:${b.line}`);
  expect(reasonless, 'docs-test skip markers need a reason').toEqual([]);
  const own = runnableSteps(doc, text);
  if (own.length === 0) return;
  const before = continues(text);
  const located = before === undefined ? own : [...runnableSteps(`docs/${before}`, await readFile(join(REPO, 'docs', before), 'utf8')), ...own];
  if (located.length === 0) return;

  const root = await mkdtemp(join(tmpdir(), 'covenant-docs-'));
  roots.push(root);
  const dbSuffix = `_docs_${process.pid}_${root.slice(-6).toLowerCase()}`;
  const scratch: Scratch = { root, home: join(root, 'home'), ports: await freePorts(DOC_PORTS.length), dbSuffix };
  for (const dir of ['bin', 'steps', 'srv', 'backup', 'home/covenant']) await mkdir(join(root, dir), { recursive: true });
  await symlink(join(REPO, 'test'), join(scratch.home, 'covenant', 'test'));
  for (const [name, text] of Object.entries(SHIMS)) {
    await writeFile(join(root, 'bin', name), text);
    await chmod(join(root, 'bin', name), 0o755);
  }
  const startsServer = located.some((s) => /(^|[\s;&|])(npm start|(npx )?covenant serve)\b/.test(s.command));
  await writeFile(join(root, 'run.sh'), script(located, scratch, startsServer));
  const env: NodeJS.ProcessEnv = {
    PATH: `${join(root, 'bin')}:${process.env.PATH ?? ''}`,
    HOME: scratch.home,
    LANG: 'C.UTF-8',
    DOCS_ROOT: root,
    DOCS_REPO: REPO,
    ...Object.fromEntries(scratch.ports.map((p, i) => [`DOCS_PORT_${7800 + i}`, String(p)])),
  };
  const run = await runBash(join(root, 'run.sh'), env);
  try {
    const failures: string[] = [];
    if (run.code === 99) failures.push(`${doc}: the scratch server did not start: ${await readFile(join(root, 'steps', 'server.out'), 'utf8')}`);
    for (const [i, step] of located.entries()) {
      const where = `${doc}:${step.line}: ${step.command.split('\n')[0]}`;
      if (!existsSync(join(root, 'steps', `${i}.rc`))) {
        failures.push(`${where}: did not finish (${run.code === null ? 'timed out' : `bash exited ${run.code}`})`);
        break;
      }
      const code = Number(await readFile(join(root, 'steps', `${i}.rc`), 'utf8'));
      const output = fromScratch(await readFile(join(root, 'steps', `${i}.out`), 'utf8'), scratch);
      const failing = expectsFailure(step.expected);
      if (failing ? code === 0 : code !== 0) failures.push(`${where}: exit ${code}, expected ${failing ? 'non-zero' : '0'}\n${indent(output)}`);
      const missing = firstMissing(step.expected, output);
      if (missing !== undefined) failures.push(`${where}: sample line not in the output: ${missing}\n${indent(output)}`);
    }
    expect(failures.join('\n\n')).toBe('');
  } finally {
    await stopServers(root);
    if (located.some((s) => s.command.includes(DOC_DB_HOST))) dropDatabases(scratch.dbSuffix);
  }
}

async function byCommandsRun(docs: readonly string[]): Promise<string[]> {
  const counts = new Map<string, number>();
  for (const doc of docs) {
    const text = await readFile(join(REPO, doc), 'utf8');
    const before = continues(text);
    const prefix = before === undefined ? 0 : runnableSteps(`docs/${before}`, await readFile(join(REPO, 'docs', before), 'utf8')).length;
    counts.set(doc, prefix + runnableSteps(doc, text).length);
  }
  return [...docs].sort((a, b) => counts.get(b)! - counts.get(a)!);
}

/** The commands a document runs, in order. */
function runnableSteps(doc: string, text: string): Located[] {
  const runnable = extractBlocks(text).filter((b) => (isShellBlock(b) || b.file !== undefined) && b.skip === undefined);
  return runnable.flatMap((b) => (b.file !== undefined ? [writeFileStep(b.file, b.lines, b.line, doc)] : steps(b).map((s) => ({ ...s, doc }))));
}

/** A `docs-test: file` block: written where it stands, executable when it starts with #!. */
function writeFileStep(name: string, lines: readonly string[], line: number, doc: string): Located {
  const executable = lines[0]?.startsWith('#!') ? `\nchmod +x ${name}` : '';
  return { doc, line, command: `cat > ${name} <<'DOCS_TEST_EOF'\n${lines.join('\n')}\nDOCS_TEST_EOF${executable}`, expected: [] };
}

function indent(text: string): string {
  return text.trimEnd().split('\n').slice(0, 40).map((l) => `    | ${l}`).join('\n');
}
