import { formatDigest } from '../core/digest.js';
import type { Release } from '../core/model.js';
import type { RuleActivation } from '../policy/cel.js';
import type { EarClaims } from '../verifier/ear.js';
import { AR4SI } from '../verifier/trust-vector.js';

/**
 * What a release rule's CEL condition sees: the verifier's variables (policy/cel.ts),
 * filled from the instance's result token — the broker never sees evidence — and the
 * release the token names:
 *
 * | variable     | from                                                                 |
 * | ------------ | -------------------------------------------------------------------- |
 * | `claims`     | the token's appraisal of the workload (`ear.status`, `ear.trustworthiness-vector`, `ear.appraisal-policy-id`, `covenant.tee`, `covenant.release`) with the token's `iat`, `exp`, `eat_nonce`, `eat_profile` and `ear.verifier-id` |
 * | `tee`        | `covenant.tee`                                                       |
 * | `release`    | `covenant.release.version`                                           |
 * | `svn`        | that release's security version                                      |
 * | `debug`      | whether the trust vector's `runtime-opaque` is 32 (debug mode the policy allowed) |
 * | `tcb_status` | always `""`: a token does not carry it (use `claims["ear.trustworthiness-vector"].hardware`) |
 * | `config`     | that release's configuration digests                                 |
 * | `workload`   | the workload                                                         |
 *
 * Same variables and limits as policy rules, so a condition is checked by the same
 * `checkRule` when it is written.
 */
export function earActivation(claims: EarClaims, workload: string, release: Release | undefined): RuleActivation {
  const appraisal = claims.submods[workload] ?? {};
  const vector = (appraisal as { 'ear.trustworthiness-vector'?: Record<string, number | undefined> })['ear.trustworthiness-vector'] ?? {};
  const config: Record<string, string> = {};
  for (const [name, digest] of Object.entries(release?.document.config ?? {})) config[name] = formatDigest(digest);
  return {
    claims: {
      ...appraisal,
      iat: claims.iat,
      exp: claims.exp,
      eat_nonce: claims.eat_nonce,
      eat_profile: claims.eat_profile,
      'ear.verifier-id': claims['ear.verifier-id'],
    },
    tee: (appraisal as { 'covenant.tee'?: string })['covenant.tee'] ?? '',
    release: release?.document.version ?? '',
    svn: release?.document.securityVersion ?? 0,
    debug: vector['runtime-opaque'] === AR4SI.WARNING,
    tcb_status: '',
    config,
    workload,
  };
}
