import { expect } from 'vitest';
import { EvidenceError, type EvidenceFailure } from '../../../src/evidence/plugin.js';

/** Awaits a verification expected to fail and returns its typed refusal. */
export async function refusal(promise: Promise<unknown>): Promise<EvidenceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(EvidenceError);
    return error as EvidenceError;
  }
  throw new Error('expected the evidence to be refused');
}

export async function expectRefused(promise: Promise<unknown>, reason: EvidenceFailure, message?: RegExp): Promise<void> {
  const error = await refusal(promise);
  expect(error.reason, error.message).toBe(reason);
  if (message !== undefined) expect(error.message).toMatch(message);
}
