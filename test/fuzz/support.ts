/**
 * What the long standalone fuzzers (test/fuzz/*.fuzz.ts) share: their command line, a
 * tally of outcomes, the one-verification runner (only an EvidenceError may escape, and
 * within 2 s), and the check that prints a failure's seed and counterexample and exits 1.
 * Not named *.fuzz.ts, so run.ts does not start it as a fuzzer of its own.
 */
import fc from 'fast-check';
import type { EvidenceError } from '../../src/evidence/plugin.js';
import { onlyEvidenceErrorsAsync, refused } from '../evidence/only-evidence-errors.js';

export interface FuzzArguments {
  readonly runs: number;
  readonly seed: number;
}

/**
 * `node --import tsx test/fuzz/<name>.fuzz.ts [runs=100000] [seed]`: exits 2 with the usage
 * unless runs is a positive integer. Without a seed, a fresh one: the run prints it, so
 * that a failure can be replayed.
 */
export function fuzzArguments(name: string): FuzzArguments {
  const runs = Number(process.argv[2] ?? 100_000);
  const seed = process.argv[3] === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.argv[3]);
  if (!Number.isSafeInteger(runs) || runs <= 0) {
    console.error(`usage: node --import tsx test/fuzz/${name}.fuzz.ts [runs] [seed]`);
    process.exit(2);
  }
  return { runs, seed };
}

/** Counts of named outcomes, in the order they first occurred. */
export class Tally {
  readonly #counts = new Map<string, number>();

  add(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  entries(): [string, number][] {
    return [...this.#counts];
  }

  toObject(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/** A plugin fuzzer's verifications: how many were accepted, the refusals by reason, the slowest. */
export class Verifications {
  accepted = 0;
  slowest = 0;
  readonly reasons = new Tally();

  /**
   * Runs one verification: its claims, or its refusal. Anything else thrown escapes, and
   * so does a verification slower than 2 s: either fails the property.
   */
  async run<T>(verify: () => Promise<T>): Promise<T | EvidenceError> {
    const started = performance.now();
    const outcome = await onlyEvidenceErrorsAsync(verify);
    const elapsed = performance.now() - started;
    this.slowest = Math.max(this.slowest, elapsed);
    if (elapsed > 2000) throw new Error(`one verification took ${elapsed.toFixed(0)} ms`);
    if (refused(outcome)) this.reasons.add(outcome.reason);
    else this.accepted++;
    return outcome;
  }
}

/**
 * Checks `property` for `runs` inputs from `seed`. On a failure, prints the counterexample
 * and the seed to replay it, and exits 1; otherwise returns the seconds it took.
 */
export async function checkOrExit<Ts>(property: fc.IAsyncPropertyWithHooks<Ts>, { runs, seed }: FuzzArguments): Promise<string> {
  const started = Date.now();
  const result = await fc.check(property, { numRuns: runs, seed });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.failed) {
    console.error(fc.defaultReportMessage(result));
    console.error(`FAILED after ${result.numRuns} runs (seed ${seed}, ${seconds} s)`);
    process.exit(1);
  }
  return seconds;
}
