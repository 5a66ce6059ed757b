import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import { redactPostgresUrl } from '../../src/store/postgres.js';

const PASSWORD = 'pw-s3cret-7f3a';

describe('[postgres] unreachable server', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'covenant-pg-'));
  });
  afterEach(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    `postgres://covenant:${PASSWORD}@127.0.0.1:1/covenant`,
    `postgresql://covenant@127.0.0.1:1/covenant?password=${PASSWORD}`,
  ])('fails fast with store-unavailable naming host and port, never the password (%#)', async (storeUrl) => {
    const started = performance.now();
    const err = await openStore({ dataDir, storeUrl }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;

    expect(err).toBeInstanceOf(CovenantError);
    const error = err as CovenantError;
    expect(error.type).toBe('store-unavailable');
    expect(error.status).toBe(503);
    expect(error.message).toContain('127.0.0.1:1');
    expect(error.message).not.toContain(PASSWORD);
    expect(ms).toBeLessThan(3_000);
    // Nothing SQLite-shaped is left behind when a URL was given.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe('redactPostgresUrl', () => {
  it.each([
    [`postgres://covenant:${PASSWORD}@db.internal:6543/ledger?sslmode=require`, 'postgres://covenant@db.internal:6543/ledger?sslmode=require'],
    [`postgresql://covenant@db.internal/ledger?password=${PASSWORD}&application_name=x`, 'postgresql://covenant@db.internal/ledger?application_name=x'],
    ['postgres://db.internal/ledger', 'postgres://db.internal/ledger'],
    [`postgres://covenant:${PASSWORD}@[::1/broken`, 'postgres://<unparseable url>'],
  ])('%s → %s', (url, expected) => {
    expect(redactPostgresUrl(url)).toBe(expected);
    expect(redactPostgresUrl(url)).not.toContain(PASSWORD);
  });
});
