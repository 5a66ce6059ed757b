import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CovenantError } from '../core/errors.js';
import { PendingProposal, ServerProblem, Unreachable } from './client.js';
import { registerAttestCommand } from './commands/attest.js';
import { registerAuditCommands, VerificationFailed } from './commands/audit.js';
import { registerCeremonyCommands } from './commands/ceremony.js';
import { registerAnchorCommands } from './commands/anchor.js';
import { registerCollateralCommands } from './commands/collateral.js';
import { registerEvidenceCommands } from './commands/evidence.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerInitCommand } from './commands/init.js';
import { registerKbsCommands } from './commands/kbs.js';
import { registerMemberCommands } from './commands/member.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerProfileCommands } from './commands/profile.js';
import { registerReleaseCommands } from './commands/release.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerSecretCommands } from './commands/secret.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSimCommands } from './commands/sim.js';
import { registerTokenCommands } from './commands/token.js';
import { registerWorkloadCommands } from './commands/workload.js';
import { createContext, parseServerUrl } from './context.js';
import { consoleOutput, type Output } from './output.js';

/** Exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The server refused the request, or a local check failed. */
  refused: 1,
  /** Bad command line. */
  usage: 2,
  /** The server (or the store) could not be reached. */
  unreachable: 3,
  /** `audit verify` found the ledger altered. */
  tampered: 4,
} as const;

/** The package's version: from dist/src/cli when built, from src/cli under the test runner. */
function packageVersion(): string {
  const candidates = ['../../../package.json', '../../package.json'].map((path) => new URL(path, import.meta.url));
  const found = candidates.find((url) => existsSync(url));
  return found === undefined ? 'unknown' : (JSON.parse(readFileSync(found, 'utf8')) as { version: string }).version;
}
const version = packageVersion();

/** Leaf commands that never talk to a server, as `<parent> <name>`: leaf names alone clash (`audit verify`). */
const LOCAL_COMMANDS = new Set(['covenant serve', 'member keygen', 'evidence verify', 'token rotate-key', 'sim init', 'proposal sign']);

export function buildProgram(out: Output, env: NodeJS.ProcessEnv): Command {
  const ctx = createContext(out, env);
  const program = new Command('covenant')
    .description('Covenant: the governance control plane for confidential computing')
    .version(version)
    .option('--server <url>', 'control plane URL (env COVENANT_SERVER; default from COVENANT_HOME/profile.json)', parseServerUrl)
    .showHelpAfterError('(run with --help for usage)')
    // Program options only before the subcommand, so a subcommand's own --version
    // (release register) is not taken for the program's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (text) => out.line(text.trimEnd()), writeErr: (text) => out.error(text.trimEnd()) });
  registerInitCommand(program, ctx);
  registerServeCommand(program, ctx, version);
  registerWorkloadCommands(program, ctx);
  registerReleaseCommands(program, ctx);
  registerPolicyCommands(program, ctx);
  registerRolloutCommands(program, ctx);
  registerFleetCommands(program, ctx);
  registerMemberCommands(program, ctx);
  registerCeremonyCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerProfileCommands(program, ctx);
  registerEvidenceCommands(program, ctx);
  registerCollateralCommands(program, ctx);
  registerAnchorCommands(program, ctx);
  registerAttestCommand(program, ctx);
  registerSimCommands(program, ctx);
  registerTokenCommands(program, ctx);
  registerSecretCommands(program, ctx);
  registerKbsCommands(program, ctx);
  // Every subcommand throws instead of exiting, so main() decides the exit code.
  const override = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({ writeOut: (text) => out.line(text.trimEnd()), writeErr: (text) => out.error(text.trimEnd()) });
      sub.showHelpAfterError('(run with --help for usage)');
      if (sub.commands.length === 0 && !LOCAL_COMMANDS.has(`${command.name()} ${sub.name()}`)) {
        sub.option('--server <url>', 'control plane URL (env COVENANT_SERVER)', parseServerUrl);
      }
      override(sub);
    }
  };
  override(program);
  return program;
}

/** Runs the CLI; returns the exit code. Errors become one line on stderr, never a stack. */
export async function main(argv: readonly string[], out: Output = consoleOutput, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildProgram(out, env);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    // Raised by an action, not by commander's own parsing, so nothing has been printed yet.
    if (error instanceof InvalidArgumentError) {
      out.error(`covenant: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      // A group named without a subcommand (`covenant workload`) prints its help to stderr
      // with exit code 1: the command line did not say what to do. `covenant help` exits 0.
      if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      if (error.code === 'commander.executeSubCommandAsync') return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof PendingProposal) {
      for (const line of error.lines()) out.line(line);
      return EXIT.ok;
    }
    if (error instanceof VerificationFailed) {
      out.error(`covenant: ${error.message}`);
      return EXIT.tampered;
    }
    if (error instanceof ServerProblem) {
      out.error(`covenant: ${error.detail} (${error.type}, HTTP ${error.status})`);
      return error.status >= 500 ? EXIT.unreachable : EXIT.refused;
    }
    if (error instanceof Unreachable) {
      out.error(`covenant: ${error.message}`);
      return EXIT.unreachable;
    }
    if (error instanceof CovenantError) {
      out.error(`covenant: ${error.message}`);
      return error.type === 'store-unavailable' ? EXIT.unreachable : EXIT.refused;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      out.error(`covenant: cannot listen: ${(error as Error).message}`);
      return EXIT.refused;
    }
    out.error(`covenant: unexpected error: ${(error as Error).message ?? String(error)}`);
    return EXIT.refused;
  }
}
