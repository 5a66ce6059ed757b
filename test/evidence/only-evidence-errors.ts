import { EvidenceError } from '../../src/evidence/plugin.js';

/**
 * The fuzzers' one rule for untrusted input: a parser or a plugin may return or throw an
 * EvidenceError, and nothing else. Shared by the short property passes under
 * test/evidence and the long runs under test/fuzz.
 */

/** Runs `fn`: its result, or the EvidenceError it threw; anything else thrown escapes and fails the run. */
export function onlyEvidenceErrors<T>(fn: () => T): T | EvidenceError {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    return error;
  }
}

/** onlyEvidenceErrors for an async `fn`: its value, or the EvidenceError it rejected with. */
export async function onlyEvidenceErrorsAsync<T>(fn: () => Promise<T>): Promise<T | EvidenceError> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    return error;
  }
}

/** Whether an outcome of onlyEvidenceErrors(Async) is a refusal. */
export function refused(outcome: unknown): outcome is EvidenceError {
  return outcome instanceof EvidenceError;
}
