import { expect } from 'vitest';
import { EvidenceError, type EvidenceFailure } from '../../src/evidence/plugin.js';
import { asyncRejection, rejection } from '../support/errors.js';

/** Awaits a verification expected to fail and returns its typed refusal. */
export const refusal = (promise: Promise<unknown>): Promise<EvidenceError> => asyncRejection(promise, EvidenceError);

export async function expectRefused(promise: Promise<unknown>, reason: EvidenceFailure, message?: RegExp): Promise<void> {
  const error = await refusal(promise);
  expect(error.reason, error.message).toBe(reason);
  if (message !== undefined) expect(error.message).toMatch(message);
}

export function expectRefusedSync(fn: () => unknown, reason: EvidenceFailure, message?: RegExp): void {
  const error = rejection(fn, EvidenceError);
  expect(error.reason, error.message).toBe(reason);
  if (message !== undefined) expect(error.message).toMatch(message);
}
