import type { MemberAlgorithm } from '../core/model.js';
import type { ActionClass } from './gate.js';

/** Ledger entry types of the trust base, and their payloads. */
export interface TenantCreated {
  readonly origin: string;
  readonly logVkey: string;
}

export interface MemberAdded {
  readonly name: string;
  readonly publicKey: string;
  readonly alg: MemberAlgorithm;
  readonly roles: readonly string[];
}

export interface MemberRemoved {
  readonly name: string;
}

/** A signed request by a known key that the gate refused: ledgered, like every refusal. */
export interface AuthorizationDenied {
  readonly action: ActionClass;
  readonly command: string;
  readonly reason: string;
}

export const TENANT_CREATED = 'tenant.created';
export const MEMBER_ADDED = 'member.added';
export const MEMBER_REMOVED = 'member.removed';
export const AUTHORIZATION_DENIED = 'authorization.denied';
