/**
 * The attestation benchmark with tiny sizes: a real server, a fleet thread, sane
 * figures — never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { ATTEST_GOAL_PER_SEC, attestLine, benchAttestations, type AttestOptions } from '../../bench/attest.js';

const TINY: AttestOptions = { attestations: 20, inFlight: 4, instances: 3, rounds: 2 };

describe('attestation bench smoke', () => {
  it('measures sim attestations over HTTP beside raw Ed25519 verification of the same reports', async () => {
    const f = await benchAttestations(TINY);
    for (const value of [f.attestationsPerSec, f.rawVerifiesPerSec, f.ratio, f.cpu.eventLoopUs, f.cpu.processUs, ...f.rounds.subject, ...f.rounds.baseline]) {
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0);
    }
    expect(f.rounds.subject).toHaveLength(TINY.rounds);
    expect(f.ratio).toBeCloseTo(f.attestationsPerSec / f.rawVerifiesPerSec, 9);
    expect(f.goalPerSec).toBe(ATTEST_GOAL_PER_SEC);
    expect(f.met).toBe(f.attestationsPerSec >= f.goalPerSec);
    // Group commit: a transaction carries at least one verdict and at most all in flight.
    expect(f.meanBatch).toBeGreaterThanOrEqual(1);
    expect(f.meanBatch).toBeLessThanOrEqual(TINY.inFlight);
    expect(attestLine(f)).toMatch(/^sim attestations {3}HTTP .*raw Ed25519 verify .*per attestation: server event loop busy [\d,]+ µs; whole process [\d,]+ µs CPU, so \d+ CPUs top out at [\d,]+\/s.*goal ≥ 3,000\/s {2}(met|NOT MET)$/);
  });
});
