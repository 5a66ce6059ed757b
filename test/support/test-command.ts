import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterRun, combine } from './rerun.js';
import type { RunSummary } from './summary-reporter.js';

/**
 * `npm test`'s runner: `vitest run` with the given arguments, and once more for any test file
 * the stall reporter stopped (a worker that stopped making progress), saying so. Exits with
 * the outcome of the two together and ends on their combined `N passed, N failed` line.
 */
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'covenant-test-run-'));

function run(name: string, args: readonly string[]): { status: number; summary?: RunSummary; stalled: string[] } {
  const summaryFile = join(scratch, `${name}.json`);
  const stallsFile = join(scratch, `${name}.stalls`);
  const result = spawnSync(process.execPath, [vitest, 'run', ...args], {
    stdio: 'inherit',
    env: { ...process.env, COVENANT_TEST_SUMMARY: summaryFile, COVENANT_TEST_STALLS: stallsFile },
  });
  const stalled = existsSync(stallsFile) ? readFileSync(stallsFile, 'utf8').split('\n').filter(Boolean) : [];
  const summary = existsSync(summaryFile) ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary) : undefined;
  return { status: result.status ?? 1, stalled, ...(summary === undefined ? {} : { summary }) };
}

let status: number;
try {
  const first = run('run', process.argv.slice(2));
  const next = afterRun(first.status, first.summary, first.stalled);
  status = first.status;
  if (!next.rerun && next.why !== undefined) process.stderr.write(`\nNot running the stalled files again: ${next.why}.\n`);
  if (next.rerun) {
    process.stdout.write(`\n${next.files.length} test file(s) stopped for a stall, running them once more: ${next.files.join(', ')}\n`);
    const second = run('rerun', next.files);
    status = second.status;
    if (second.summary !== undefined) {
      const total = combine(first.summary!, next.files, second.summary);
      process.stdout.write(`\nafter the rerun of ${next.files.join(', ')}:\ntests: ${total.passed} passed, ${total.failed} failed\n`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(status);
