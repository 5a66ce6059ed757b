/**
 * The long fuzz pass (`npm run fuzz [-- <iterations>]`): runs every parser fuzzer in
 * test/fuzz one after another, each in its own process, and fails if any fails. CI
 * runs the short passes inside the test suite; this is the ≥ 100,000-input run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const iterations = process.argv[2] ?? '100000';
const dir = fileURLToPath(new URL('.', import.meta.url));
const fuzzers = readdirSync(dir).filter((name) => name.endsWith('.fuzz.ts')).sort();
let failed = 0;
for (const name of fuzzers) {
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}`, iterations], { stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`${name}: ${result.status === 0 ? 'ok' : 'FAILED'} (${iterations} inputs, ${seconds} s)`);
  if (result.status !== 0) failed++;
}
console.log(`fuzzers: ${fuzzers.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
