import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { sha256Hex } from '../../core/canonical.js';
import { encodeName } from '../client.js';
import { RELATIVE_FORMS } from '../../core/duration.js';
import { collect, timeArgument, type CliContext } from '../context.js';

interface ReleaseView {
  workload: string;
  version: string;
  digest: string;
  status: string;
  createdAt: string;
  securityVersion: number;
  references: Record<string, unknown>;
  config: Record<string, { alg: string; hex: string }>;
}

export const parseCount = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a non-negative integer');
  return Number(value);
};

/** An integer option within bounds. */
export const parseBounded =
  (min: number, max: number) =>
  (value: string): number => {
    const n = parseCount(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };

/**
 * Collects repeatable `name=value` options into a record, split at the first '='
 * (CEL rules contain '=' themselves). Runs as commander's option parser, so a
 * malformed pair is a usage error with a message.
 */
export const collectPairs = (value: string, previous: Record<string, string> = {}): Record<string, string> => {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`must be written <name>=<value>, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
};

const fileDigest = async (path: string): Promise<string> => `sha256:${sha256Hex(await readFile(path))}`;

export function registerReleaseCommands(program: Command, ctx: CliContext): void {
  const release = program.command('release').description('Releases: versions of a workload and their reference values');

  release
    .command('register <workload>')
    .description('Register a release: exact measurements, or signer + product + minimum security version')
    .requiredOption('--version <v>', 'release version')
    .requiredOption('--class <tee>', 'TEE class (sim, sev-snp, tdx, sgx, nitro, tpm, azure-snp-vtpm, nvidia-gpu)')
    .option('--measurement <alg:hex>', 'an accepted measurement (repeatable)', collect)
    .option('--signer <hex>', 'signer identity (e.g. MRSIGNER)')
    .option('--product <id>', 'product id')
    .option('--min-svn <n>', 'minimum security version for the signer form', parseCount)
    .option('--svn <n>', "the release's security version (compared with the policy floor)", parseCount)
    .option('--config <name=alg:hex>', 'security-sensitive configuration digest (repeatable)', collectPairs)
    .option('--sbom <file>', 'SBOM file; its SHA-256 is recorded')
    .option('--provenance <file>', 'provenance statement file; its SHA-256 is recorded')
    .action(async (workload: string, options: Record<string, unknown>, command: Command) => {
      const body = {
        version: options.version,
        class: options.class,
        ...(options.measurement ? { measurements: options.measurement } : {}),
        ...(options.signer !== undefined ? { signer: options.signer } : {}),
        ...(options.product !== undefined ? { product: options.product } : {}),
        ...(options.minSvn !== undefined ? { minSvn: options.minSvn } : {}),
        ...(options.svn !== undefined ? { securityVersion: options.svn } : {}),
        ...(options.config ? { config: options.config } : {}),
        ...(options.sbom ? { sbom: await fileDigest(options.sbom as string) } : {}),
        ...(options.provenance ? { provenance: await fileDigest(options.provenance as string) } : {}),
      };
      const created = await (await ctx.client(command)).post<ReleaseView>(`/v1/workloads/${encodeName(workload)}/releases`, body);
      ctx.out.line(`registered ${created.workload} ${created.version} (digest ${created.digest})`);
    });

  release
    .command('list <workload>')
    .description("List a workload's releases")
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const { releases } = await (await ctx.client(command)).get<{ releases: ReleaseView[] }>(`/v1/workloads/${encodeName(workload)}/releases`);
      if (options.json) return ctx.out.json(releases);
      ctx.out.table(
        releases.map((r) => ({ ...r, classes: Object.keys(r.references), digest: r.digest.slice(0, 16) })),
        ['version', 'status', 'securityVersion', 'classes', 'digest', 'createdAt'],
      );
    });

  release
    .command('show <workload> <version>')
    .description('Show a release and its reference values')
    .option('--json', 'print JSON')
    .action(async (workload: string, version: string, options: { json?: boolean }, command: Command) => {
      const shown = await (await ctx.client(command)).get<ReleaseView>(`/v1/workloads/${encodeName(workload)}/releases/${encodeName(version)}`);
      if (options.json) return ctx.out.json(shown);
      ctx.out.line(`release     ${shown.workload} ${shown.version} (${shown.status})`);
      ctx.out.line(`digest      ${shown.digest}`);
      ctx.out.line(`registered  ${shown.createdAt}`);
      ctx.out.line(`security    version ${shown.securityVersion}`);
      for (const [tee, values] of Object.entries(shown.references)) ctx.out.line(`reference   ${tee}: ${JSON.stringify(values)}`);
      for (const [name, digest] of Object.entries(shown.config)) ctx.out.line(`config      ${name} = ${digest.alg}:${digest.hex}`);
    });

  release
    .command('revoke <workload> <version>')
    .description('Revoke a release: refused at once, or accepted with a warning until --deadline; never accepted again')
    .requiredOption('--reason <text>', 'why (an advisory id, say): instances are told it, the ledger keeps it')
    .option('--deadline <time>', `accepted with a warning until then: ${RELATIVE_FORMS.future}`, timeArgument('future'))
    .option('--json', 'print JSON')
    .action(async (workload: string, version: string, options: { reason: string; deadline?: Date; json?: boolean }, command: Command) => {
      const revoked = await (await ctx.client(command)).post<{ version: string; deadline: string | null; policy?: { number: number; id: string } }>(
        `/v1/workloads/${encodeName(workload)}/releases/${encodeName(version)}/revoke`,
        { reason: options.reason, ...(options.deadline ? { deadline: options.deadline.toISOString() } : {}) },
      );
      if (options.json) return ctx.out.json(revoked);
      ctx.out.line(`revoked ${workload} ${revoked.version}${revoked.deadline === null ? ': refused from now on' : `: accepted with a warning until ${revoked.deadline}`}`);
      if (revoked.policy !== undefined) ctx.out.line(`policy version ${revoked.policy.number}: ${revoked.policy.id}`);
    });
}
