import { InvalidArgumentError, Option, type Command } from 'commander';
import { CovenantError } from '../../core/errors.js';
import { digestProblem } from '../../core/digest.js';
import { ServerProblem, Unreachable } from '../client.js';
import type { CliContext } from '../context.js';
import { formatFields } from '../output.js';
import { parseCount } from './release.js';
import { DEFAULT_SIM_DIR, loadSimPlatform } from './sim.js';

interface AttestFlags {
  workload: string;
  measurement: string;
  svn: number;
  debug?: boolean;
  simDir: string;
  json?: boolean;
}

function parseMeasurement(value: string): string {
  const problem = digestProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

/**
 * `covenant attest`: one simulated instance end to end — a session, evidence from the
 * sim platform of `covenant sim init`, the verdict — printing the result token on
 * stdout, so it pipes into `covenant token verify -`.
 */
export function registerAttestCommand(program: Command, ctx: CliContext): void {
  program
    .command('attest')
    .description('Attest a simulated TEE instance (SIMULATED: no security) and print its result token')
    .requiredOption('--workload <name>', 'the workload the instance attests as')
    // Mandatory so that scripts keep working when attesters for real TEEs arrive.
    .addOption(new Option('--sim', 'use the simulated TEE made by `covenant sim init` (the only attester built in)').makeOptionMandatory())
    .requiredOption('--measurement <digest>', 'launch measurement the simulated instance reports, e.g. sha256:<64 hex>', parseMeasurement)
    .option('--svn <n>', 'security version the instance reports', parseCount, 0)
    .option('--debug', 'report a debug-mode TEE')
    .option('--sim-dir <dir>', 'where `covenant sim init` wrote the platform', DEFAULT_SIM_DIR)
    .option('--json', 'print the result (token, status, appraisal) as JSON')
    .action(async (flags: AttestFlags, command: Command) => {
      const server = (await ctx.client(command)).server;
      const [{ AttestationRefused, SimAttester, fetchTransport }, { SimulatedTee }, platform] = await Promise.all([
        import('../../sim/attester.js'),
        import('../../sim/tee.js'),
        loadSimPlatform(flags.simDir),
      ]);
      const attester = new SimAttester({
        server,
        workload: flags.workload,
        tee: new SimulatedTee(platform, { measurement: flags.measurement, svn: flags.svn, debug: flags.debug === true, configDigests: {} }),
        transport: async (request) => {
          try {
            return await fetchTransport(request);
          } catch (error) {
            throw new Unreachable(`cannot reach the server at ${server}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`);
          }
        },
      });
      const result = await attester.attest().catch((error: unknown) => {
        // The same one line and exit code as every other command's server refusals.
        if (error instanceof AttestationRefused) throw new ServerProblem(error.httpStatus, error.type, error.message);
        throw error;
      });
      if (flags.json) ctx.out.json(result);
      else {
        ctx.out.line(result.token);
        ctx.out.error(
          formatFields([
            ['status', result.appraisal.status],
            ['instance', result.appraisal.instance],
            ['policy', result.appraisal.policy],
            ['release', result.appraisal.release?.version ?? '(none matched)'],
            ...result.appraisal.reasons.map((reason): [string, string] => [`${reason.severity}`, `${reason.code}: ${reason.message}`]),
          ]),
        );
      }
      // A warning is an acceptance with reasons attached (a deadline coming, say).
      if (result.appraisal.status === 'contraindicated') {
        throw new CovenantError('forbidden', `attestation contraindicated: ${result.appraisal.reasons.map((r) => r.code).join(', ')}`);
      }
    });
}
