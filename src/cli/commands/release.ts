import { readFile } from 'node:fs/promises';
import type { Command} from 'commander';
import { InvalidArgumentError } from 'commander';
import { sha256Hex } from '../../core/canonical.js';
import { encodeName } from '../client.js';
import { collect, type CliContext } from '../context.js';

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

/** `name=value` pairs, split at the first '=' (CEL rules contain '=' themselves). */
export function parsePairs(pairs: readonly string[] | undefined, what: string): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`${what} must be written <name>=<value>, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

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
    .option('--config <name=alg:hex>', 'security-sensitive configuration digest (repeatable)', collect)
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
        ...(options.config ? { config: parsePairs(options.config as string[], '--config') } : {}),
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
      ctx.out.line(JSON.stringify(shown, null, 2));
    });
}
