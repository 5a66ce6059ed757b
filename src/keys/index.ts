/**
 * The key broker: resources sealed at rest, release rules, the KBS RCAR protocol with
 * JWE wrapping to attested keys, and sealing-key slots phased with rollouts
 * (docs/key-broker.md).
 */
export { KeyBroker, kbsSessionKey, KBS_COOKIE, type KbsAttestationPort, type KeyBrokerOptions, type ResourceCredentials, type SlotsView } from './broker.js';
export { changeSecretRules, keyBrokerProjection, putSecret, rotateSecret, setMigrationWindow, SEALING_WINDOW, SECRET_PUT, SECRET_ROTATE, SECRET_RULES } from './commands.js';
export * from './events.js';
export { FileKms, type KeyEncryptionService } from './kms.js';
export { formatResource, parseResource, SEALING_REPOSITORY, SLOTS, type ResourceName, type Slot } from './names.js';
export { KBS_ERROR_BASE, KbsError, type KbsErrorName, type RefusalCode } from './refusals.js';
export { buildRule, decideAccess, PHASES, type Phase, type ReleaseRule } from './rules.js';
export { deriveSlotKey, DEFAULT_MIGRATION_WINDOW_SECONDS, resolveSlot } from './slots.js';
