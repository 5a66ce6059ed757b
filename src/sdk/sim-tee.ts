import type { SimulatedTee } from '../sim/tee.js';
import type { RcarTee } from './kbs-client.js';

/**
 * The simulated TEE as an RCAR attester: its evidence over the KBS report data is the
 * sim evidence document itself (the `primary_evidence` object). SIMULATED — OFFERS NO
 * SECURITY (src/sim/tee.ts).
 */
export function simRcarTee(tee: SimulatedTee): RcarTee {
  return {
    tee: 'sim',
    evidence: async (reportData) => JSON.parse(new TextDecoder().decode(tee.reportOver(reportData))) as Record<string, unknown>,
  };
}
