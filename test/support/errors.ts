import { expect } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';

/** Runs `fn`, expecting a typed rejection (of `kind`), and returns it for further assertions. */
export function rejection<E extends CovenantError = CovenantError>(fn: () => unknown, kind: abstract new (...args: never[]) => E = CovenantError as never): E {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(kind);
    return error as E;
  }
  throw new Error('expected a rejection');
}

/** Awaits `promise`, expecting a typed rejection (of `kind`), and returns it. */
export async function asyncRejection<E extends CovenantError = CovenantError>(
  promise: Promise<unknown>,
  kind: abstract new (...args: never[]) => E = CovenantError as never,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(kind);
    return error as E;
  }
  throw new Error('expected a rejection');
}

/** Expects a typed rejection of `type` whose message matches `message`. */
export function expectRejected(fn: () => unknown, type: string, message?: RegExp): void {
  const error = rejection(fn);
  expect(error.type).toBe(type);
  if (message !== undefined) expect(error.message).toMatch(message);
}
