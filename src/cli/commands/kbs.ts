import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { digestProblem } from '../../core/digest.js';
import { ServerProblem, Unreachable } from '../client.js';
import type { CliContext } from '../context.js';
import { parseBounded, parseCount } from './release.js';
import { DEFAULT_SIM_DIR, loadSimPlatform } from './sim.js';

interface GetFlags {
  workload: string;
  measurement?: string;
  svn: number;
  simDir: string;
  version?: number;
  keyType: 'ec-p256' | 'ec-p384' | 'rsa';
  out?: string;
}

function parseMeasurement(value: string): string {
  const problem = digestProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

/** The sim's launch measurement when none is given: SHA-256 of the workload name (register that for a demo). */
export const defaultSimMeasurement = (workload: string): string => `sha256:${createHash('sha256').update(workload).digest('hex')}`;

const KEY_TYPES = { 'ec-p256': 'EC-P256', 'ec-p384': 'EC-P384', rsa: 'RSA' } as const;

/**
 * What the instance's own result token says went wrong: the trust-vector claims of each
 * appraisal that did not affirm (`executables=96 contraindicated`: no accepted release
 * matched). The KBS refusal names only the verdict, and the token is this process's own,
 * fresh from attest, so reading it unverified tells nothing the server did not say.
 */
export async function appraisalHint(token: string | undefined): Promise<string> {
  if (token === undefined) return '';
  const [{ decodeJwt }, { tierOf }] = await Promise.all([import('jose'), import('../../verifier/trust-vector.js')]);
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    return '';
  }
  const parts: string[] = [];
  for (const [name, appraisal] of Object.entries((claims['submods'] ?? {}) as Record<string, { 'ear.status'?: string; 'ear.trustworthiness-vector'?: Record<string, number> }>)) {
    if (appraisal['ear.status'] === 'affirming') continue;
    const failing = Object.entries(appraisal['ear.trustworthiness-vector'] ?? {})
      .filter(([, value]) => tierOf(value) === 'warning' || tierOf(value) === 'contraindicated')
      .map(([claim, value]) => `${claim}=${value} ${tierOf(value)}`);
    if (failing.length > 0) parts.push(`${name}: ${failing.join(', ')}`);
  }
  return parts.length === 0 ? '' : `; the appraisal's trust vector says ${parts.join('; ')} (covenant attest prints the reason codes)`;
}

/**
 * `covenant kbs get`: one simulated TEE instance fetching one resource over the KBS
 * protocol (auth, attest, resource) with the SDK's client, printing the plaintext.
 * SIMULATED: the TEE key and the sim platform live in this process.
 */
export function registerKbsCommands(program: Command, ctx: CliContext): void {
  const kbs = program.command('kbs').description('The key broker as a TEE instance sees it (KBS RCAR protocol)');

  kbs
    .command('get <resource>')
    .description('Attest a simulated TEE instance over the KBS protocol and print a resource (repository/type/tag, or sealing/key/current|legacy)')
    .requiredOption('--workload <name>', 'the workload the instance attests as')
    .addOption(new Option('--sim', 'use the simulated TEE made by `covenant sim init` (the only attester built in)').makeOptionMandatory())
    .option('--measurement <digest>', 'launch measurement the simulated instance reports (default: sha256 of the workload name)', parseMeasurement)
    .option('--svn <n>', 'security version the instance reports', parseCount, 0)
    .option('--version <n>', 'the resource version to read (default: the latest)', parseBounded(1, 999_999_999))
    .addOption(new Option('--key-type <type>', 'the TEE key the secret is encrypted to').choices(Object.keys(KEY_TYPES)).default('ec-p256'))
    .option('--out <file>', 'write the value to this file (mode 0600) instead of printing it')
    .option('--sim-dir <dir>', 'where `covenant sim init` wrote the platform', DEFAULT_SIM_DIR)
    .action(async (resource: string, flags: GetFlags, command: Command) => {
      const server = (await ctx.client(command)).server;
      const [{ KbsClient, KbsRefused, fetchKbsTransport, simRcarTee }, { SimulatedTee }, platform] = await Promise.all([import('../../sdk/index.js'), import('../../sim/tee.js'), loadSimPlatform(flags.simDir)]);
      const tee = new SimulatedTee(platform, { measurement: flags.measurement ?? defaultSimMeasurement(flags.workload), svn: flags.svn, debug: false, configDigests: {} });
      const client = new KbsClient({
        server,
        workload: flags.workload,
        tee: simRcarTee(tee),
        keyType: KEY_TYPES[flags.keyType],
        transport: async (request) => {
          try {
            return await fetchKbsTransport(request);
          } catch (error) {
            throw new Unreachable(`cannot reach the server at ${server}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`);
          }
        },
      });
      const value = await client.getResource(resource, flags.version === undefined ? {} : { version: flags.version }).catch(async (error: unknown) => {
        // The refusal's reason code (what the ledger records) names it on the one error line.
        if (error instanceof KbsRefused) throw new ServerProblem(error.httpStatus, error.reason ?? error.kbsType, `${error.message}${await appraisalHint(client.token)}`);
        throw error;
      });
      try {
        if (flags.out !== undefined) {
          await writeFile(flags.out, value, { mode: 0o600 });
          ctx.out.error(`wrote ${value.length} bytes of ${resource} to ${flags.out}`);
          return;
        }
        let printable: string | undefined;
        try {
          printable = new TextDecoder('utf-8', { fatal: true }).decode(value);
        } catch {
          printable = undefined;
        }
        if (printable !== undefined) ctx.out.line(printable);
        else {
          ctx.out.line(Buffer.from(value).toString('base64'));
          ctx.out.error(`(${resource} is ${value.length} bytes of binary; printed as base64 — use --out to write the bytes)`);
        }
      } finally {
        value.fill(0);
      }
    });
}
