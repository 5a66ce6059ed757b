import { formatDigest } from '../core/digest.js';
import type { TcbStatus, TeeClass } from '../core/model.js';
import type { Claims } from '../evidence/plugin.js';

/** The appraisal-relevant claims, digests as `alg:hex`; format details stay in the attachment. */
export interface ClaimsSummary {
  readonly teeClass: TeeClass;
  readonly measurements: readonly string[];
  readonly signer?: string;
  readonly product?: string;
  readonly securityVersion?: number;
  readonly debug: boolean;
  readonly tcbStatus?: TcbStatus;
  readonly tcb?: Readonly<Record<string, number>>;
  readonly config: Readonly<Record<string, string>>;
}

export function summariseClaims(claims: Claims): ClaimsSummary {
  const config: Record<string, string> = {};
  for (const [name, digest] of Object.entries(claims.config)) config[name] = formatDigest(digest);
  return {
    teeClass: claims.teeClass,
    measurements: claims.measurements.map(formatDigest),
    ...(claims.signer === undefined ? {} : { signer: claims.signer }),
    ...(claims.product === undefined ? {} : { product: claims.product }),
    ...(claims.securityVersion === undefined ? {} : { securityVersion: claims.securityVersion }),
    debug: claims.debug,
    ...(claims.tcbStatus === undefined ? {} : { tcbStatus: claims.tcbStatus }),
    ...(claims.tcb === undefined ? {} : { tcb: claims.tcb }),
    config,
  };
}
