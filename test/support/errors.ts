import { expect } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';

/** Runs `fn`, expecting a typed rejection, and returns it for further assertions. */
export function rejection(fn: () => unknown): CovenantError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CovenantError);
    return error as CovenantError;
  }
  throw new Error('expected a rejection');
}

/** Expects a typed rejection of `type` whose message matches `message`. */
export function expectRejected(fn: () => unknown, type: string, message?: RegExp): void {
  const error = rejection(fn);
  expect(error.type).toBe(type);
  if (message !== undefined) expect(error.message).toMatch(message);
}
