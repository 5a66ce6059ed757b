import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Release } from '../../src/core/model.js';
import type { Rollout, RolloutStatus } from '../../src/core/rollout.js';
import { deriveSlotKey, phaseOf, predecessorOf, resolveSlot, type SlotInput } from '../../src/keys/slots.js';

const releaseOf = (version: string, securityVersion: number): Release => ({
  document: { tenant: 'default', workload: 'payments/ingest', version, securityVersion, references: {}, config: {} },
  digest: `digest-${version}`,
  status: 'accepted',
  createdAt: '2026-01-01T00:00:00.000Z',
});

const releases = new Map([releaseOf('1.0.0', 1), releaseOf('1.0.1', 1), releaseOf('0.9.0', 2), releaseOf('1.1.0', 3)].map((r) => [r.document.version, r]));

function rollout(status: RolloutStatus, from: string[], to: string, endedAt?: string): Rollout {
  return {
    document: {
      tenant: 'default',
      workload: 'payments/ingest',
      number: 1,
      from,
      to,
      waves: [100],
      gate: null,
      deadline: null,
      onDeadline: 'enforce',
      raiseFloor: false,
      reason: 'upgrade',
      actor: 'member:admin',
      startedAt: '2026-11-22T12:00:00.000Z',
    },
    status,
    wave: 0,
    waveStartedAt: '2026-11-22T12:00:00.000Z',
    ...(endedAt === undefined ? {} : { outcome: { trigger: 'manual', reason: 'done', actor: 'member:admin', at: endedAt } }),
  };
}

const B = { version: '1.1.0', digest: 'digest-1.1.0' };
const input = (overrides: Partial<SlotInput>): SlotInput => ({ slot: 'legacy', release: B, releases, windowSeconds: 3600, now: new Date('2026-11-22T13:00:00.000Z'), ...overrides });

describe('sealing-key derivation', () => {
  const master = new Uint8Array(randomBytes(32));

  it('is deterministic in the master secret, tenant, workload and release, and nothing else', () => {
    const a = deriveSlotKey(master, 'default', 'payments/ingest', { version: '1.0.0', digest: 'd' });
    expect(deriveSlotKey(master, 'default', 'payments/ingest', { version: '1.0.0', digest: 'd' })).toEqual(a);
    expect(a.key).toHaveLength(32);
    expect(a.kid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const others = [
      deriveSlotKey(new Uint8Array(randomBytes(32)), 'default', 'payments/ingest', { version: '1.0.0', digest: 'd' }),
      deriveSlotKey(master, 'other', 'payments/ingest', { version: '1.0.0', digest: 'd' }),
      deriveSlotKey(master, 'default', 'payments/other', { version: '1.0.0', digest: 'd' }),
      deriveSlotKey(master, 'default', 'payments/ingest', { version: '1.0.1', digest: 'd' }),
      deriveSlotKey(master, 'default', 'payments/ingest', { version: '1.0.0', digest: 'e' }),
    ];
    for (const other of others) {
      expect(Buffer.from(other.key).equals(Buffer.from(a.key))).toBe(false);
      expect(other.kid).not.toBe(a.kid);
    }
  });

  it('keeps the key id apart from the key', () => {
    const { key, kid } = deriveSlotKey(master, 'default', 'w', { version: '1', digest: 'd' });
    expect(Buffer.from(key).toString('base64url')).not.toContain(kid);
  });
});

describe('sealing slots', () => {
  it('give every instance its own release key as current', () => {
    expect(resolveSlot(input({ slot: 'current' }))).toEqual({ granted: true, release: B, rule: 'sealing:current' });
  });

  it('open legacy to the replaced release during the rollout to this one', () => {
    expect(resolveSlot(input({ rollout: rollout('active', ['1.0.0'], '1.1.0') }))).toEqual({ granted: true, release: { version: '1.0.0', digest: 'digest-1.0.0' }, rule: 'sealing:legacy' });
  });

  it('name the replaced release with the highest security version, then the greatest version', () => {
    expect(predecessorOf(rollout('active', ['1.0.0', '0.9.0'], '1.1.0'), releases)?.document.version).toBe('0.9.0');
    expect(predecessorOf(rollout('active', ['1.0.0', '1.0.1'], '1.1.0'), releases)?.document.version).toBe('1.0.1');
  });

  it('keep legacy open for the migration window after completion, then close it', () => {
    const completed = rollout('completed', ['1.0.0'], '1.1.0', '2026-11-22T12:30:00.000Z');
    expect(resolveSlot(input({ rollout: completed, now: new Date('2026-11-22T13:29:59.999Z') }))).toEqual({
      granted: true,
      release: { version: '1.0.0', digest: 'digest-1.0.0' },
      rule: 'sealing:legacy',
      closesAt: '2026-11-22T13:30:00.000Z',
    });
    expect(resolveSlot(input({ rollout: completed, now: new Date('2026-11-22T13:30:00.000Z') }))).toMatchObject({ granted: false, reason: 'slot-closed', rule: 'sealing:legacy' });
    expect(resolveSlot(input({ rollout: completed, windowSeconds: 0, now: new Date('2026-11-22T12:30:00.000Z') }))).toMatchObject({ granted: false, reason: 'slot-closed' });
  });

  it('have no legacy without a rollout to this release, or after a rollback', () => {
    expect(resolveSlot(input({}))).toMatchObject({ granted: false, reason: 'no-legacy-slot' });
    expect(resolveSlot(input({ rollout: rollout('rolled-back', ['1.0.0'], '1.1.0', '2026-11-22T12:30:00.000Z') }))).toMatchObject({ granted: false, reason: 'no-legacy-slot' });
    expect(resolveSlot(input({ rollout: rollout('active', ['9.9.9'], '1.1.0') }))).toMatchObject({ granted: false, reason: 'no-legacy-slot' });
  });
});

describe('rollout phases', () => {
  it('place an instance by its release and the rollout in progress', () => {
    const active = rollout('active', ['1.0.0'], '1.1.0');
    expect(phaseOf(undefined, '1.0.0')).toBe('stable');
    expect(phaseOf(active, '1.1.0')).toBe('rollout-to');
    expect(phaseOf(active, '1.0.0')).toBe('rollout-from');
    expect(phaseOf(active, '0.9.0')).toBe('stable');
    expect(phaseOf(rollout('completed', ['1.0.0'], '1.1.0', '2026-11-22T12:30:00.000Z'), '1.1.0')).toBe('stable');
  });
});
