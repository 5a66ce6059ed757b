import { execFileSync } from 'node:child_process';
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

/** What has stalled at `now`: each file running longer than the limit, or the whole run gone quiet. */
export function findStalls(progress: RunProgress, now: number, limitMs = STALL_LIMIT_MS): string[] {
  const stalls = [...progress.running]
    .filter(([, { since }]) => now - since > limitMs)
    .map(([file, { since, test }]) => `${file} has run for ${Math.round((now - since) / 1000)} s${test ? `, in "${test}"` : ''}`);
  if (stalls.length === 0 && now - progress.lastEventAt > limitMs) {
    stalls.push(`no test file has been queued or finished for ${Math.round((now - progress.lastEventAt) / 1000)} s`);
  }
  return stalls;
}

export default class StallReporter implements Reporter {
  private lastEventAt = Date.now();
  private readonly running = new Map<string, { since: number; test?: string }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly limitMs: number;

  /** `limitMs` as a reporter option (`['…/stall-reporter.ts', { limitMs }]`) is for trying it out. */
  constructor(options: { readonly limitMs?: number } = {}) {
    this.limitMs = options.limitMs ?? STALL_LIMIT_MS;
  }

  onTestRunStart(): void {
    this.lastEventAt = Date.now();
    this.timer = setInterval(() => this.check(), Math.min(CHECK_EVERY_MS, this.limitMs));
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
  }

  private check(): void {
    const stalls = findStalls({ lastEventAt: this.lastEventAt, running: this.running }, Date.now(), this.limitMs);
    if (stalls.length === 0) return;
    const processes = descendants(process.pid);
    process.stderr.write(
      `\nThe test run has stalled; stopping it and its processes.\n${stalls.map((s) => `  ${s}\n`).join('')}` +
        `Processes:\n${processes.map((p) => `${'  '.repeat(p.depth)}${p.pid} (${p.seconds} s) ${p.args.slice(0, 160)}\n`).join('')}`,
    );
    for (const { pid } of processes) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    process.exit(1);
  }
}

interface ProcessEntry {
  readonly pid: number;
  readonly seconds: number;
  readonly args: string;
  readonly depth: number;
}

/** The processes under `root` (workers, and the servers and commands they started), depth first. */
function descendants(root: number): ProcessEntry[] {
  let listing = '';
  try {
    listing = execFileSync('ps', ['-eo', 'pid=,ppid=,etimes=,args='], { encoding: 'utf8', timeout: 5000 });
  } catch (error) {
    process.stderr.write(`  (ps failed: ${(error as Error).message})\n`);
  }
  const children = new Map<number, Omit<ProcessEntry, 'depth'>[]>();
  for (const row of listing.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(row);
    if (!match || match[4]!.startsWith('ps -eo')) continue;
    const ppid = Number(match[2]);
    children.set(ppid, [...(children.get(ppid) ?? []), { pid: Number(match[1]), seconds: Number(match[3]), args: match[4]! }]);
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
