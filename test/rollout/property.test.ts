/**
 * Acceptance 6: random sequences of rollout starts, advances, gate results, completions,
 * rollbacks, revocations, driver ticks and attestations, through the real spine on
 * SQLite. After every step: while a rollout runs, the policy accepts the release of
 * every instance in its phase (B, and each A not revoked); healthy instances on those
 * releases are never denied; the floor never decreases; a release a completed rollout
 * removed never returns. After every run: the state rebuilt from the ledger alone is
 * the stored state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RolloutDriver } from '../../src/app/rollout-driver.js';
import { projectEntry } from '../../src/app/control-plane.js';
import { AttestationService } from '../../src/app/attestation.js';
import { generateKeyPairSync } from 'node:crypto';
import { CovenantError } from '../../src/core/errors.js';
import type { PolicyVersion } from '../../src/core/model.js';
import { simPlugin, SIM_MEDIA_TYPE } from '../../src/evidence/sim/index.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { createWorkload, registerRelease, updatePolicy } from '../../src/policy/commands.js';
import { currentPolicy, policyHistory, releasesByVersion } from '../../src/policy/queries.js';
import { advanceRollout, completeRollout, revokeRelease, rollbackRollout, startRollout } from '../../src/rollout/commands.js';
import { activeRollout } from '../../src/rollout/queries.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { PROJECTION_TABLES } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { encodeEnvelope } from '../../src/verifier/envelope.js';
import { pruneInventory } from '../../src/verifier/inventory.js';
import { newSessionKey } from '../../src/verifier/session.js';
import { sqliteBackend } from '../store/backends.js';
import { createTestPlane, manualClock, type TestPlane } from '../support/control-plane.js';
import { simPki } from '../support/fleet.js';
import { sha256 } from '../server/support.js';

const W = 'prop/service';
const RELEASES = [1, 2, 3, 4].map((n) => ({ version: `${n}.0.0`, svn: n, measurement: sha256(String(n)), roots: sha256('e') }));
const PKI = simPki(new Date('2026-11-22T12:00:00.000Z'));

type Step =
  | { kind: 'start'; to: number; waves: readonly number[]; gated: boolean; deadline: 'none' | 'enforce' | 'rollback' }
  | { kind: 'advance' }
  | { kind: 'complete' }
  | { kind: 'rollback' }
  | { kind: 'revoke'; release: number; grace: boolean }
  | { kind: 'tick'; minutes: number }
  | { kind: 'attest'; release: number; healthy: boolean; count: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('start' as const), to: fc.integer({ min: 0, max: 3 }), waves: fc.constantFrom([100], [50, 100], [10, 50, 100]), gated: fc.boolean(), deadline: fc.constantFrom('none' as const, 'enforce' as const, 'rollback' as const) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'advance' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'complete' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rollback' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), release: fc.integer({ min: 0, max: 3 }), grace: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), minutes: fc.integer({ min: 1, max: 90 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('attest' as const), release: fc.integer({ min: 0, max: 3 }), healthy: fc.boolean(), count: fc.integer({ min: 1, max: 4 }) }) },
);

async function projectionRows(store: Store): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of PROJECTION_TABLES) out[table] = (await store.db.selectFrom(table).selectAll().execute()).map((row) => JSON.stringify(row, Object.keys(row).sort())).sort();
  return out;
}

async function allEntries(plane: TestPlane): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  for (;;) {
    const page = await plane.cp.ledger.entries(plane.tenant, { after: entries.length - 1, limit: 1000 });
    if (page.length === 0) return entries;
    entries.push(...page);
  }
}

async function run(steps: readonly Step[]): Promise<void> {
  const backend = await sqliteBackend.create();
  try {
    const clock = manualClock();
    const plane = await createTestPlane(backend.store, clock);
    const { cp, tenant, admin } = plane;
    const service = new AttestationService({ cp, tenant, sessionKey: newSessionKey(), tokenKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, verifiers: [{ plugin: simPlugin, trustAnchors: [PKI.root.certificate] }], build: 'test', tokenJitter: 0 });
    const driver = new RolloutDriver(cp, tenant);
    await cp.execute(tenant, createWorkload(admin.name, W));
    for (const r of RELEASES) await cp.execute(tenant, registerRelease(admin.name, W, { version: r.version, class: 'sim', measurements: [r.measurement], securityVersion: r.svn, config: { roots: r.roots } }));
    await cp.execute(tenant, updatePolicy(admin.name, W, { accept: [RELEASES[0]!.version], reason: 'first' }));
    const removedForGood = new Set<string>();

    const attempt = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        // Refusals are part of the game; anything else is a bug.
        if (!(error instanceof CovenantError) || error.status >= 500) throw error;
      }
    };

    for (const s of steps) {
      const before = await currentPolicy(cp.store.db, tenant, W);
      switch (s.kind) {
        case 'start': {
          const deadline = s.deadline === 'none' ? {} : { deadline: new Date(clock().getTime() + 2 * 3600_000).toISOString(), onDeadline: s.deadline };
          const gate = s.gated ? { gate: { minAffirming: 1, maxContraindicatedPercent: 20, minSoak: '10m' } } : {};
          await attempt(() => cp.execute(tenant, startRollout(admin.name, W, { to: RELEASES[s.to]!.version, waves: s.waves, ...gate, ...deadline, reason: 'property' })));
          break;
        }
        case 'advance':
          await attempt(() => cp.execute(tenant, advanceRollout(admin.name, W)));
          break;
        case 'complete':
          await attempt(() => cp.execute(tenant, completeRollout(admin.name, W, 'property')));
          break;
        case 'rollback':
          await attempt(() => cp.execute(tenant, rollbackRollout(admin.name, W, 'property')));
          break;
        case 'revoke':
          await attempt(() => cp.execute(tenant, revokeRelease(admin.name, W, { version: RELEASES[s.release]!.version, reason: 'property', ...(s.grace ? { deadline: new Date(clock().getTime() + 3600_000).toISOString() } : {}) })));
          break;
        case 'tick':
          clock.advance(s.minutes * 60_000);
          await driver.tick();
          // Instances unseen for two hours leave the inventory; the rebuild must forget the same ones.
          await cp.execute(tenant, pruneInventory(7200));
          break;
        case 'attest': {
          const release = RELEASES[s.release]!;
          const policy = await currentPolicy(cp.store.db, tenant, W);
          const releases = await releasesByVersion(cp.store.db, tenant, W);
          const entry = policy?.document.accepted.find((a) => a.version === release.version);
          // A release revoked with a deadline stays in force (with a warning) until then.
          const inForce = entry !== undefined && (entry.until === undefined ? releases.get(release.version)?.status !== 'revoked' : Date.parse(entry.until) > clock().getTime());
          const tee = new SimulatedTee(PKI.platform, { measurement: release.measurement, svn: release.svn, debug: false, configDigests: { roots: s.healthy ? release.roots : sha256('f') } });
          for (let i = 0; i < s.count; i++) {
            const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
            const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
            const session = await service.newSession(W);
            const body = encodeEnvelope({ evidenceType: SIM_MEDIA_TYPE, evidence: tee.report(session.nonce, spki), instanceKey: spki, collateral: [] });
            const attested = await service.attest(session.token, body, 'application/vnd.covenant.attestation+json');
            // Zero denied attestations of healthy instances on an accepted release.
            if (s.healthy && inForce) expect(attested.appraisal.status, JSON.stringify(attested.appraisal.reasons)).not.toBe('contraindicated');
            if (!inForce) expect(attested.appraisal.status).toBe('contraindicated');
          }
          break;
        }
      }

      const after = await currentPolicy(cp.store.db, tenant, W);
      const rollout = await activeRollout(cp.store.db, tenant, W);
      const releases = await releasesByVersion(cp.store.db, tenant, W);
      const accepted = new Set(after?.document.accepted.map((a) => a.version));
      // The accepted set holds every release of the active phase: B, and each A not revoked or expired.
      if (rollout !== undefined) {
        expect(accepted.has(rollout.document.to), `B ${rollout.document.to} accepted during rollout #${rollout.document.number}`).toBe(true);
        for (const a of rollout.document.from) {
          if (releases.get(a)?.status !== 'revoked') expect(accepted.has(a), `A ${a} accepted during rollout #${rollout.document.number}`).toBe(true);
        }
      }
      // The floor never decreases; what a completion removed, or a revocation, never returns.
      expect(after?.document.securityVersionFloor ?? 0).toBeGreaterThanOrEqual(before?.document.securityVersionFloor ?? 0);
      for (const [version, release] of releases) if (release.status === 'retired' || release.status === 'revoked') removedForGood.add(version);
      for (const version of accepted) {
        if (!removedForGood.has(version)) continue;
        const wasAccepted = before?.document.accepted.some((a) => a.version === version) ?? false;
        expect(wasAccepted, `${version} returned after its removal`).toBe(true);
      }
    }

    // Policy versions chain and every one is a ledger entry; state is the ledger's projection.
    const history: PolicyVersion[] = await policyHistory(cp.store.db, tenant, W);
    history.forEach((version, i) => expect(version.document.predecessor).toBe(i === 0 ? null : history[i - 1]!.id));
    const entries = await allEntries(plane);
    const policyEntries = entries.filter((e) => e.type === 'policy.version-created').map((e) => (e.payload as { id: string }).id);
    expect(policyEntries).toEqual(history.map((v) => v.id));
    const rebuilt = await sqliteBackend.create();
    try {
      for (const entry of entries) await rebuilt.store.writeTransaction(tenant, async (tx) => projectEntry(tx, entry));
      expect(await projectionRows(rebuilt.store)).toEqual(await projectionRows(backend.store));
    } finally {
      await rebuilt.destroy();
    }
  } finally {
    await backend.destroy();
  }
}

describe('rollouts under random sequences of operations (property)', () => {
  it('keep the active phase accepted, the floor monotonic, removals final and the state a projection of the ledger', async () => {
    // Sequences once found by the property are checked every time as well.
    const found: Step[][] = [
      [
        { kind: 'revoke', release: 0, grace: true },
        { kind: 'attest', release: 0, healthy: true, count: 1 },
        { kind: 'tick', minutes: 61 },
        { kind: 'attest', release: 0, healthy: true, count: 1 },
      ],
    ];
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), run), { numRuns: 25, examples: found.map((steps): [readonly Step[]] => [steps]) });
  }, 300_000);
});
