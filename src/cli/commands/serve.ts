import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ANCHOR_CLASSES, isAnchorClass, type AnchorClass } from '../../anchors/classes.js';
import type { EvidenceVerifier } from '../../app/attestation.js';
import { DEFAULT_RETENTION_SECONDS } from '../../app/retention.js';
import { DEFAULT_INVENTORY_RETENTION_SECONDS } from '../../verifier/inventory.js';
import { DEFAULT_DRIVER_INTERVAL_SECONDS } from '../../app/rollout-driver.js';
import { DEFAULT_ADMISSION } from '../../server/admission.js';
import { tenantKeysExist } from '../../app/tenant-keys.js';
import { DEFAULT_LIFETIME_SECONDS } from '../../verifier/token-lifetime.js';
import { CovenantError } from '../../core/errors.js';
import { DEFAULT_TENANT } from '../../core/model.js';
import { memberKeyPath } from '../home.js';
import { DEFAULT_DATA_DIR, initialise, parseTenant } from './init.js';
import { parseBounded, parseCount } from './release.js';
import { loadSimRoot } from './sim.js';
import { readInput, tpmAnchor } from './evidence.js';
import { collect, type CliContext } from '../context.js';

export const DEFAULT_LISTEN = '127.0.0.1:7800';

interface Listen {
  host: string;
  port: number;
}

function parseListen(value: string): Listen {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be HOST:PORT, e.g. 127.0.0.1:7800');
  return { host, port };
}

export interface AnchorFlag {
  readonly tee: AnchorClass;
  readonly file: string;
}

/** `--anchor CLASS=FILE`, repeatable. */
export function parseAnchorFlag(value: string, previous: readonly AnchorFlag[] = []): AnchorFlag[] {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError('must be CLASS=FILE, e.g. nitro=aws-nitro-root.pem');
  const tee = value.slice(0, at);
  if (!isAnchorClass(tee)) {
    throw new InvalidArgumentError(`${JSON.stringify(tee)} ships no vendor root to replace; one of ${ANCHOR_CLASSES.join(', ')} (sim: --sim-dir; tpm: --tpm-anchor)`);
  }
  return [...previous, { tee, file: value.slice(at + 1) }];
}

/**
 * The certificates each `--anchor` names, by class, read and checked before anything
 * else happens, so that a wrong file stops the start and changes nothing.
 */
export async function loadAnchors(flags: readonly AnchorFlag[]): Promise<ReadonlyMap<AnchorClass, readonly Uint8Array[]>> {
  // The certificate parser is loaded only for serve.
  const { describeAnchorFile } = await import('../../anchors/anchor-file.js');
  const anchors = new Map<AnchorClass, Uint8Array[]>();
  for (const { tee, file } of flags) {
    const bytes = await readInput(file, `--anchor ${tee}`);
    try {
      describeAnchorFile(bytes);
    } catch (error) {
      if (!(error instanceof CovenantError)) throw error;
      throw new CovenantError('bad-request', `--anchor ${tee}=${file} holds no PEM or DER certificate`, { cause: error });
    }
    anchors.set(tee, [...(anchors.get(tee) ?? []), bytes]);
  }
  return anchors;
}

interface ServeFlags {
  config?: string;
  dataDir: string;
  store?: string;
  listen: Listen;
  tenant: string;
  checkpointInterval: number;
  bodyLimit: number;
  signatureWindow: number;
  logLevel: string;
  simDir?: string;
  tpmAnchor: string[];
  anchor: AnchorFlag[];
  authority: string[];
  evidenceRetention: number;
  inventoryRetention: number;
  tokenLifetime: number;
  attestRate: number;
  attestBurst: number;
  attestInFlight: number;
  rolloutInterval: number;
}

/**
 * Every format whose vendor roots ship with Covenant (AMD, Intel, AWS, NVIDIA) always,
 * under those roots or the `anchors` given for its class; sim and TPM only when given
 * something to trust.
 */
export async function evidenceVerifiers(
  sim: { dir: string; explicit: boolean },
  tpmAnchorFiles: readonly string[],
  anchors: ReadonlyMap<AnchorClass, readonly Uint8Array[]> = new Map(),
): Promise<EvidenceVerifier[]> {
  const [{ sevSnpPlugin }, { simPlugin }, { tpmPlugin }, { nitroPlugin }, { sgxPlugin, tdxPlugin }, { azureSnpVtpmPlugin }, { nvidiaGpuPlugin }] = await Promise.all([
    import('../../evidence/sev-snp/index.js'),
    import('../../evidence/sim/index.js'),
    import('../../evidence/tpm/index.js'),
    import('../../evidence/nitro/index.js'),
    import('../../evidence/dcap/index.js'),
    import('../../evidence/azure-snp-vtpm/index.js'),
    import('../../evidence/nvidia/index.js'),
  ]);
  const verifiers: EvidenceVerifier[] = [sevSnpPlugin, nitroPlugin, sgxPlugin, tdxPlugin, azureSnpVtpmPlugin, nvidiaGpuPlugin].map((plugin) => {
    const given = isAnchorClass(plugin.teeClass) ? anchors.get(plugin.teeClass) : undefined;
    return given === undefined ? { plugin } : { plugin, trustAnchors: given };
  });
  const simRoot = await loadSimRoot(sim.dir);
  // Asked for by name, a missing root is a mistake; by default, it means "no sim".
  if (simRoot === undefined && sim.explicit) throw new CovenantError('bad-request', `--sim-dir ${sim.dir} holds no vendor-root.pem: run \`covenant sim init --dir ${sim.dir}\``);
  if (simRoot !== undefined) verifiers.push({ plugin: simPlugin, trustAnchors: [simRoot] });
  if (tpmAnchorFiles.length > 0) {
    verifiers.push({ plugin: tpmPlugin, trustAnchors: await Promise.all(tpmAnchorFiles.map(async (file) => tpmAnchor(await readInput(file, 'TPM trust anchor')))) });
  }
  return verifiers;
}

/**
 * The options after `--config <file>`: the command line, then COVENANT_STORE for the
 * store, then the file, then the defaults.
 */
export async function withConfigFile(command: Command, file: string, env: NodeJS.ProcessEnv): Promise<ServeFlags> {
  // Loaded on demand: zod would slow every other command's start.
  const { applyServeConfig, readServeConfig } = await import('../serve-config.js');
  const config = await readServeConfig(file);
  applyServeConfig(command, config, file, (attribute) => command.getOptionValueSource(attribute) === 'cli' || (attribute === 'store' && Boolean(env.COVENANT_STORE)));
  return command.opts<ServeFlags>();
}

export function registerServeCommand(program: Command, ctx: CliContext, version: string): void {
  program
    .command('serve')
    .description('Run the control plane (the only command that opens the store)')
    .option('--config <file>', 'read options from a JSON file whose keys are the long option names below, e.g. {"data-dir": "/var/lib/covenant"}; the command line wins (docs/operations.md#configuration-file)')
    .option('--data-dir <dir>', 'data directory: keys, and the SQLite store unless --store', DEFAULT_DATA_DIR)
    .option('--store <url>', 'postgres://… to use PostgreSQL (default: SQLite in the data directory; env COVENANT_STORE)')
    .addOption(new Option('--listen <host:port>', 'address to listen on').argParser(parseListen).default(parseListen(DEFAULT_LISTEN), DEFAULT_LISTEN))
    .option('--tenant <name>', 'tenant', parseTenant, DEFAULT_TENANT)
    .option('--checkpoint-interval <seconds>', 'sign and store a checkpoint this often (0: only on demand)', parseCount, 60)
    .option('--body-limit <bytes>', 'largest accepted request body', parseCount, 1024 * 1024)
    .option('--signature-window <seconds>', 'accepted clock skew of signed requests (replay window, 1-86400)', parseBounded(1, 86_400), 300)
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .option('--sim-dir <dir>', 'accept simulated-TEE evidence from the vendor root in <dir> (default: <data-dir>/sim, when `covenant sim init` made one)')
    .option('--tpm-anchor <file>', 'accept TPM quotes whose AK chains to this CA certificate or matches this SHA-256 key pin (repeatable)', collect, [])
    .option('--anchor <class=file>', `replace the shipped vendor roots of one evidence class (${ANCHOR_CLASSES.join(', ')}) with the certificates in <file>, PEM or DER (repeatable; several files for one class add up)`, parseAnchorFlag, [])
    .option('--evidence-retention <seconds>', 'keep raw evidence this long for re-appraisal (each instance keeps its latest)', parseCount, DEFAULT_RETENTION_SECONDS)
    .option('--inventory-retention <seconds>', 'forget instances not seen for this long (0: never); the ledger keeps their verdicts', parseCount, DEFAULT_INVENTORY_RETENTION_SECONDS)
    .option('--attest-rate <n>', 'new attestation sessions admitted per second; beyond it 429 with a jittered Retry-After', parseBounded(1, 1_000_000), DEFAULT_ADMISSION.ratePerSecond)
    .option('--attest-burst <n>', 'sessions admitted at once after a quiet spell', parseBounded(1, 1_000_000), DEFAULT_ADMISSION.burst)
    .option('--attest-in-flight <n>', 'evidence submissions verified at once; beyond it 429', parseBounded(1, 1_000_000), DEFAULT_ADMISSION.maxInFlight)
    .option('--token-lifetime <seconds>', 'attestation result lifetime, before ±20% jitter (1-86400)', parseBounded(1, 86_400), DEFAULT_LIFETIME_SECONDS)
    .option('--authority <host[:port]>', 'the host (and port) clients address this deployment by, which signatures must name; a signed request to any other is refused (repeatable; default: any, so set it behind a proxy or with several deployments)', collect, [])
    .option('--rollout-interval <seconds>', 'evaluate rollout gates and release deadlines this often (0: never; advance by hand)', parseBounded(0, 86_400), DEFAULT_DRIVER_INTERVAL_SECONDS)
    .action(async (given: ServeFlags, command: Command) => {
      const flags = given.config === undefined ? given : await withConfigFile(command, given.config, ctx.env);
      const listen = flags.listen;
      const anchors = await loadAnchors(flags.anchor);
      // Keys, database and logs are the server's alone.
      process.umask(0o077);
      if (!(await tenantKeysExist(flags.dataDir, flags.tenant))) {
        const result = await initialise(ctx, {
          dataDir: flags.dataDir,
          tenant: flags.tenant,
          name: 'admin',
          keepName: true,
          alg: 'ed25519',
          server: `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`,
          keepProfile: true,
        });
        ctx.out.line(`initialised a new data directory ${result.dataDir}; admin member "${result.member}" signs with ${memberKeyPath(ctx.home())}`);
        if (!result.profileUpdated) ctx.out.line(`note: ${ctx.home()}/profile.json already names a server and log key; left unchanged`);
      }
      const storeUrl = flags.store ?? ctx.env.COVENANT_STORE;
      const verifiers = await evidenceVerifiers({ dir: flags.simDir ?? join(flags.dataDir, 'sim'), explicit: flags.simDir !== undefined }, flags.tpmAnchor, anchors);
      if (verifiers.some((v) => v.plugin.teeClass === 'sim')) ctx.out.line('WARNING: simulated-TEE evidence is accepted; it offers no security (never in production)');
      // Loaded on demand: the server's dependencies would slow every other command's start.
      const { startServer } = await import('../../server/serve.js');
      const server = await startServer({
        dataDir: flags.dataDir,
        ...(storeUrl ? { storeUrl } : {}),
        host: listen.host,
        port: listen.port,
        tenant: flags.tenant,
        checkpointIntervalMs: flags.checkpointInterval * 1000,
        bodyLimit: flags.bodyLimit,
        signatureWindowSeconds: flags.signatureWindow,
        logLevel: flags.logLevel,
        version,
        verifiers,
        evidenceRetentionSeconds: flags.evidenceRetention,
        inventoryRetentionSeconds: flags.inventoryRetention,
        tokenLifetimeSeconds: flags.tokenLifetime,
        ...(flags.authority.length === 0 ? {} : { authorities: flags.authority }),
        admission: { ratePerSecond: flags.attestRate, burst: flags.attestBurst, maxInFlight: flags.attestInFlight },
        driverIntervalSeconds: flags.rolloutInterval,
      });
      ctx.out.line(`covenant listening on ${server.url}`);
      ctx.out.line(`data directory ${server.dataDir} (store: ${server.store.kind === 'sqlite' ? join(server.dataDir, 'covenant.db') : server.store.location})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    });
}
