import { ANCHOR_ADD, ANCHOR_REMOVE } from '../anchors/commands.js';
import { registered, type RegisteredCommand } from '../ceremony/command.js';
import { COLLATERAL_IMPORT } from '../collateral/commands.js';
import { CONSTITUTION_SET } from '../ceremony/constitution.js';
import { MEMBER_ADD, MEMBER_REMOVE } from '../ceremony/member-commands.js';
import type { CommandRegistry } from '../ceremony/proposals.js';
import { BREAK_GLASS, RATIFY_BREAK_GLASS } from '../policy/break-glass.js';
import { SEALING_WINDOW, SECRET_PUT, SECRET_ROTATE, SECRET_RULES } from '../keys/commands.js';
import { TOKEN_KEY_ROTATE } from './token-key-rotation.js';
import { POLICY_UPDATE, RELEASE_REGISTER, WORKLOAD_CREATE } from '../policy/commands.js';
import { HEALTH_SIGNAL, RELEASE_REVOKE, ROLLOUT_ADVANCE, ROLLOUT_COMPLETE, ROLLOUT_ROLLBACK, ROLLOUT_START } from '../rollout/commands.js';

/** Every command a member may ask for, and so every command a proposal may name. */
const COMMANDS: readonly RegisteredCommand[] = [
  registered(WORKLOAD_CREATE),
  registered(RELEASE_REGISTER),
  registered(POLICY_UPDATE),
  registered(MEMBER_ADD),
  registered(MEMBER_REMOVE),
  registered(CONSTITUTION_SET),
  registered(ROLLOUT_START),
  registered(ROLLOUT_ADVANCE),
  registered(ROLLOUT_COMPLETE),
  registered(ROLLOUT_ROLLBACK),
  registered(RELEASE_REVOKE),
  registered(HEALTH_SIGNAL),
  registered(BREAK_GLASS),
  registered(RATIFY_BREAK_GLASS),
  registered(SECRET_PUT),
  registered(SECRET_ROTATE),
  registered(SECRET_RULES),
  registered(SEALING_WINDOW),
  registered(COLLATERAL_IMPORT),
  registered(ANCHOR_ADD),
  registered(ANCHOR_REMOVE),
  registered(TOKEN_KEY_ROTATE),
];

export const commandRegistry: CommandRegistry = new Map(COMMANDS.map((command) => [command.name, command]));
