import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

/**
 * Ends a run that has stopped making progress, saying where it stopped. Every test and hook
 * has a timeout, but a worker that never reports back (blocked, lost, never started) has
 * none: CI then waits out its own limit and learns nothing. The slowest file takes about a
 * minute, so ten minutes without a sign of life is a hang, not a slow machine.
 */
export const STALL_LIMIT_MS = 10 * 60_000;
const CHECK_EVERY_MS = 30_000;

export interface RunProgress {
  /** When the last module was queued or ended, or the last test finished. */
  readonly lastEventAt: number;
  /** Modules queued and not yet ended: when each was queued, and its test now running, if any. */
  readonly running: ReadonlyMap<string, { readonly since: number; readonly test?: string }>;
}

/** A file that has run past the limit, or (no `file`) a run in which nothing has happened for that long. */
export interface Stall {
  readonly file?: string;
  readonly message: string;
}

/** What has stalled at `now`: each file running longer than the limit, or the whole run gone quiet. */
export function findStalls(progress: RunProgress, now: number, limitMs = STALL_LIMIT_MS): Stall[] {
  const stalls: Stall[] = [...progress.running]
    .filter(([, { since }]) => now - since > limitMs)
    .map(([file, { since, test }]) => ({ file, message: `${file} has run for ${Math.round((now - since) / 1000)} s${test ? `, in "${test}"` : ''}` }));
  if (stalls.length === 0 && now - progress.lastEventAt > limitMs) {
    stalls.push({ message: `no test file has been queued or finished for ${Math.round((now - progress.lastEventAt) / 1000)} s` });
  }
  return stalls;
}

/** The title a worker takes while it runs `file` (test/support/worker-title.ts): how a stalled file's process is found. */
export const workerTitle = (file: string): string => `vitest worker: ${file}`;

export default class StallReporter implements Reporter {
  private lastEventAt = Date.now();
  private readonly running = new Map<string, { since: number; test?: string }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly limitMs: number;
  private readonly reportDirectory: string | undefined;
  private readonly stallsFile: string | undefined;
  private stopping = false;

  /**
   * `limitMs` as a reporter option (`['…/stall-reporter.ts', { limitMs }]`) is for trying it out.
   * `reportDirectory` is where the workers write Node diagnostic reports on SIGUSR2 (they run
   * with `--report-on-signal`): a stalled worker's JavaScript stack and libuv handles say what it
   * waits for, which its process state alone cannot.
   * `stallsFile`: where the files stopped for a stall are listed, one a line, for the test
   * command to run them once more (scripts/test.mjs); without it a stall ends the run.
   */
  constructor(options: { readonly limitMs?: number; readonly reportDirectory?: string; readonly stallsFile?: string } = {}) {
    this.limitMs = options.limitMs ?? STALL_LIMIT_MS;
    this.reportDirectory = options.reportDirectory;
    this.stallsFile = options.stallsFile;
    if (this.reportDirectory !== undefined) mkdirSync(this.reportDirectory, { recursive: true });
  }

  onTestRunStart(): void {
    this.lastEventAt = Date.now();
    this.timer = setInterval(() => void this.check(), Math.min(CHECK_EVERY_MS, this.limitMs));
    this.timer.unref();
  }

  onTestModuleQueued(module: TestModule): void {
    this.lastEventAt = Date.now();
    this.running.set(module.relativeModuleId, { since: this.lastEventAt });
  }

  onTestCaseReady(test: TestCase): void {
    const entry = this.running.get(test.module.relativeModuleId);
    if (entry) entry.test = test.fullName;
  }

  onTestCaseResult(): void {
    this.lastEventAt = Date.now();
  }

  onTestModuleEnd(module: TestModule): void {
    this.lastEventAt = Date.now();
    this.running.delete(module.relativeModuleId);
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
    // Reports exist only for a stalled run, which never gets here: the directory is empty.
    if (this.reportDirectory !== undefined) rmSync(this.reportDirectory, { recursive: true, force: true });
  }

  private async check(): Promise<void> {
    if (this.stopping) return;
    const stalls = findStalls({ lastEventAt: this.lastEventAt, running: this.running }, Date.now(), this.limitMs);
    if (stalls.length === 0) return;
    this.stopping = true;
    const processes = descendants(process.pid);
    process.stderr.write(
      `\nThe test run has stalled.\n${stalls.map((stall) => `  ${stall.message}\n`).join('')}` +
        `Processes:\n${processes.map((p) => `${'  '.repeat(p.depth)}${p.pid} (${p.seconds} s, cpu ${p.cpuSeconds} s, ${p.state} in ${p.wchan}) ${p.args.slice(0, 160)}\n`).join('')}`,
    );
    // A stalled file's worker is stopped alone, so that vitest fails that file and runs the
    // rest; the test command runs it once more. A quiet run, or a worker that cannot be
    // told apart, ends the run.
    const workers = stalls.map((stall) => (stall.file === undefined ? undefined : processes.find((p) => p.depth === 1 && p.args === workerTitle(stall.file!))));
    const stoppable = this.stallsFile !== undefined && workers.every((worker) => worker !== undefined);
    const targets = stoppable ? (workers as ProcessEntry[]) : processes.filter((p) => p.depth === 1);
    if (this.reportDirectory !== undefined) process.stderr.write(await workerReports(targets, this.reportDirectory));
    if (!stoppable) {
      process.stderr.write('Stopping the run and its processes.\n');
      kill(processes);
      process.exit(1);
    }
    for (const [i, stall] of stalls.entries()) {
      process.stderr.write(`Stopping the worker of ${stall.file}; it will be run once more after the others.\n`);
      appendFileSync(this.stallsFile!, `${stall.file}\n`);
      this.running.delete(stall.file!);
      kill([workers[i]!, ...processes.filter((p) => isBelow(p, workers[i]!, processes))]);
    }
    this.lastEventAt = Date.now();
    this.stopping = false;
  }
}

function kill(processes: readonly ProcessEntry[]): void {
  for (const { pid } of processes) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Whether `p` descends from `ancestor` (servers and commands a test started). */
function isBelow(p: ProcessEntry, ancestor: ProcessEntry, all: readonly ProcessEntry[]): boolean {
  const byPid = new Map(all.map((entry) => [entry.pid, entry]));
  for (let parent = byPid.get(p.ppid); parent !== undefined; parent = byPid.get(parent.ppid)) if (parent.pid === ancestor.pid) return true;
  return false;
}

/**
 * Asks each worker for a diagnostic report and summarises it: a worker idle in its event loop
 * answers within a second with what it waits on; one blocked in a system call does not answer,
 * which says as much.
 */
async function workerReports(workers: readonly ProcessEntry[], directory: string): Promise<string> {
  const before = new Set(reportFiles(directory));
  for (const { pid } of workers) {
    try {
      process.kill(pid, 'SIGUSR2');
    } catch {
      // Already gone.
    }
  }
  await sleep(5000);
  const lines: string[] = [];
  for (const { pid } of workers) {
    const file = reportFiles(directory).find((name) => !before.has(name) && name.includes(`.${pid}.`));
    if (file === undefined) {
      lines.push(`Worker ${pid}: no diagnostic report within 5 s (blocked outside its event loop)\n`);
      continue;
    }
    lines.push(`Worker ${pid}: diagnostic report ${join(directory, file)}\n${summariseReport(readFileSync(join(directory, file), 'utf8'))}`);
  }
  return lines.join('');
}

function reportFiles(directory: string): string[] {
  try {
    return readdirSync(directory).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
}

/** The parts of a Node diagnostic report that tell what a process waits for. */
export function summariseReport(text: string): string {
  const report = JSON.parse(text) as {
    javascriptStack?: { message?: string; stack?: string[] };
    libuv?: { type: string; is_active: boolean; is_referenced?: boolean; firesInMsFromNow?: number; fd?: number; remoteEndpoint?: unknown; localEndpoint?: unknown }[];
  };
  const stack = report.javascriptStack?.stack ?? [];
  const handles = (report.libuv ?? []).filter((handle) => handle.is_active && handle.is_referenced !== false);
  return (
    `  JavaScript stack: ${stack.length === 0 ? '(none: idle in the event loop)' : `\n${stack.slice(0, 20).map((frame) => `    ${frame.trim()}\n`).join('')}`}\n` +
    `  active handles:\n${handles
      .map((h) => `    ${h.type}${h.fd === undefined ? '' : ` fd ${h.fd}`}${h.firesInMsFromNow === undefined ? '' : ` fires in ${h.firesInMsFromNow} ms`}${h.remoteEndpoint ? ` to ${JSON.stringify(h.remoteEndpoint)}` : ''}\n`)
      .join('')}`
  );
}

interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly seconds: number;
  /** CPU seconds used, the scheduler state and the kernel function it sleeps in: tells a busy loop from a blocked write or an idle event loop. */
  readonly cpuSeconds: number;
  readonly state: string;
  readonly wchan: string;
  readonly args: string;
  readonly depth: number;
}

/** The processes under `root` (workers, and the servers and commands they started), depth first. */
function descendants(root: number): ProcessEntry[] {
  let listing = '';
  try {
    listing = execFileSync('ps', ['-eo', 'pid=,ppid=,etimes=,times=,stat=,wchan:32=,args='], { encoding: 'utf8', timeout: 5000 });
  } catch (error) {
    process.stderr.write(`  (ps failed: ${(error as Error).message})\n`);
  }
  const children = new Map<number, Omit<ProcessEntry, 'depth'>[]>();
  for (const row of listing.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(row);
    if (!match || match[7]!.startsWith('ps -eo')) continue;
    const ppid = Number(match[2]);
    const entry = { pid: Number(match[1]), ppid, seconds: Number(match[3]), cpuSeconds: Number(match[4]), state: match[5]!, wchan: match[6]!, args: match[7]! };
    children.set(ppid, [...(children.get(ppid) ?? []), entry]);
  }
  const found: ProcessEntry[] = [];
  const walk = (pid: number, depth: number): void => {
    for (const child of children.get(pid) ?? []) {
      found.push({ ...child, depth });
      walk(child.pid, depth + 1);
    }
  };
  walk(root, 1);
  return found;
}
