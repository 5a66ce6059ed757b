import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CovenantError } from '../../core/errors.js';
import { pemBlocks } from '../../evidence/x509/pem.js';
import type { PlatformIdentity } from '../../sim/vendor.js';
import type { CliContext } from '../context.js';
import { DEFAULT_DATA_DIR } from './init.js';

/**
 * The simulated TEE's keys as files: what `covenant sim init` writes and what the
 * server (the vendor root, as a trust anchor) and `covenant attest` (the platform)
 * read back. SIMULATED — OFFERS NO SECURITY: the keys are plain PEM files.
 */

export const DEFAULT_SIM_DIR = join(DEFAULT_DATA_DIR, 'sim');
const DEFAULT_PLATFORM_ID = 'sim-platform';

export interface SimFiles {
  readonly rootCertificate: string;
  readonly rootKey: string;
  readonly platformCertificate: string;
  readonly platformKey: string;
}

export function simFiles(dir: string): SimFiles {
  return {
    rootCertificate: join(dir, 'vendor-root.pem'),
    rootKey: join(dir, 'vendor-root.key'),
    platformCertificate: join(dir, 'platform.pem'),
    platformKey: join(dir, 'platform.key'),
  };
}

// Loaded on demand: certificate building pulls in pkijs, which every other command can skip.
const vendor = () => import('../../sim/vendor.js');

/** The file's text, or undefined when it does not exist. */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CovenantError('bad-request', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The platform identity `covenant sim init` wrote to `dir`. */
export async function loadSimPlatform(dir: string): Promise<PlatformIdentity> {
  const files = simFiles(dir);
  const [certificatePem, privateKeyPem] = await Promise.all([readIfPresent(files.platformCertificate), readIfPresent(files.platformKey)]);
  if (certificatePem === undefined || privateKeyPem === undefined) {
    throw new CovenantError('bad-request', `no simulated TEE in ${dir}: run \`covenant sim init\` first`);
  }
  return (await vendor()).importPlatformIdentity({ certificatePem, privateKeyPem });
}

/** The vendor root certificate (DER) in `dir`, the sim plugin's trust anchor; undefined when there is none. */
export async function loadSimRoot(dir: string): Promise<Uint8Array | undefined> {
  const path = simFiles(dir).rootCertificate;
  const pem = await readIfPresent(path);
  if (pem === undefined) return undefined;
  const blocks = pemBlocks(pem);
  if (blocks?.length !== 1) throw new CovenantError('validation-failed', `${path} must hold exactly one CERTIFICATE block`);
  return blocks[0];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

type SimPems = Record<keyof SimFiles, string>;

/**
 * Checks all four files before writing any, so a refusal never leaves a root from one
 * run beside a platform from another. With `force` each file is removed first: `mode`
 * only applies to a file being created, and a key must not inherit a looser one.
 */
async function writeSimFiles(files: SimFiles, pems: SimPems, force: boolean): Promise<void> {
  const paths = Object.values(files);
  for (const path of force ? [] : paths) {
    if (await exists(path)) throw new CovenantError('conflict', `${path} already exists: use --force to replace the simulated TEE`);
  }
  await Promise.all(paths.map((path) => rm(path, { force: true })));
  const write = (path: string, text: string, mode: number): Promise<void> => writeFile(path, text, { mode, flag: 'wx' });
  await write(files.rootCertificate, pems.rootCertificate, 0o644);
  await write(files.rootKey, pems.rootKey, 0o600);
  await write(files.platformCertificate, pems.platformCertificate, 0o644);
  await write(files.platformKey, pems.platformKey, 0o600);
}

async function createSim(platformId: string, now: Date): Promise<SimPems> {
  const { createVendorRoot, exportPlatformIdentity, exportVendorRoot, issuePlatformIdentity } = await vendor();
  const root = createVendorRoot({ now });
  const platform = issuePlatformIdentity(root, { now, platformId });
  const rootPems = exportVendorRoot(root);
  const platformPems = exportPlatformIdentity(platform);
  return {
    rootCertificate: rootPems.certificatePem,
    rootKey: rootPems.privateKeyPem,
    platformCertificate: platformPems.certificatePem,
    platformKey: platformPems.privateKeyPem,
  };
}

export function registerSimCommands(program: Command, ctx: CliContext): void {
  const sim = program.command('sim').description('The simulated TEE, for development without hardware (offers no security)');

  sim
    .command('init')
    .description('Create a simulated TEE vendor root and one platform identity it certifies, as PEM files')
    .option('--dir <dir>', 'where to write the files', DEFAULT_SIM_DIR)
    .option('--platform-id <id>', 'the platform name, the certificate CN ([a-z0-9][a-z0-9._-]{0,63})', DEFAULT_PLATFORM_ID)
    .option('--force', 'replace existing files')
    .action(async (options: { dir: string; platformId: string; force?: boolean }) => {
      const dir = resolve(options.dir);
      const files = simFiles(dir);
      // Made first, so a bad --platform-id is refused before anything touches the disk.
      const pems = await createSim(options.platformId, new Date());
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeSimFiles(files, pems, options.force === true);
      ctx.out.error('WARNING: the simulated TEE offers NO SECURITY: anyone who can read these keys can forge evidence; use it for development only');
      ctx.out.line(`created simulated TEE platform ${options.platformId} in ${dir}`);
      ctx.out.line(`vendor root   ${files.rootCertificate}`);
      ctx.out.line(`root key      ${files.rootKey}`);
      ctx.out.line(`platform      ${files.platformCertificate}`);
      ctx.out.line(`platform key  ${files.platformKey}`);
    });
}
