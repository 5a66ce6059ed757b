import { createPublicKey } from 'node:crypto';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { createTenantKeys, defaultOrigin } from '../../app/tenant-keys.js';
import { generateMemberKey, type MemberKeyAlg } from '../../ceremony/member-key.js';
import { DEFAULT_TENANT } from '../../core/model.js';
import { tenantNameProblem } from '../../core/names.js';
import type { CliContext } from '../context.js';
import { DEFAULT_SERVER, memberKeyPath, readMemberKey, readProfile, writeMemberKey, writeProfile, type Profile } from '../home.js';
import { algOption } from './member.js';

export const DEFAULT_DATA_DIR = '.covenant';

export function parseTenant(value: string): string {
  const problem = tenantNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

export interface InitOptions {
  readonly dataDir: string;
  readonly tenant: string;
  readonly origin?: string;
  readonly name: string;
  readonly alg: MemberKeyAlg;
  readonly server?: string;
  /** Reuse an existing key under its profile name even if `name` differs (auto-init). */
  readonly keepName?: boolean;
  /** Leave an existing profile's server and pinned log key alone (auto-init). */
  readonly keepProfile?: boolean;
}

export interface InitResult {
  readonly dataDir: string;
  readonly logKey: string;
  readonly member: string;
  readonly publicKey: string;
  readonly createdMemberKey: boolean;
  readonly profileUpdated: boolean;
}

/**
 * Creates the tenant's keys in the data directory and, unless COVENANT_HOME already
 * holds one, the first admin's member key. The server enrols that admin when it
 * first starts; init itself never opens the store.
 */
export async function initialise(ctx: CliContext, options: InitOptions): Promise<InitResult> {
  const home = ctx.home();
  const profile = await readProfile(home);
  let key = await readMemberKey(home);
  let createdMemberKey = false;
  let member = options.keepName ? (profile?.member ?? options.name) : options.name;
  if (!key) {
    const generated = generateMemberKey(options.alg);
    await writeMemberKey(home, generated.privateKeyPem);
    key = await readMemberKey(home);
    createdMemberKey = true;
    member = options.name;
  }
  const publicKey = createPublicKey(key!.key).export({ type: 'spki', format: 'der' }).toString('base64');
  const dataDir = resolve(options.dataDir);
  const keys = await createTenantKeys(dataDir, options.tenant, options.origin ?? defaultOrigin(options.tenant), [
    { name: member, publicKey, alg: key!.alg, roles: ['admin'] },
  ]);
  const profileUpdated = !(options.keepProfile && profile?.logKey !== undefined);
  await writeProfile(
    home,
    profileUpdated
      ? { ...withoutLedgerStart(profile), member, server: options.server ?? profile?.server ?? DEFAULT_SERVER, tenant: options.tenant, logKey: keys.log.vkey, pinnedAt: new Date().toISOString() }
      : { ...profile, member },
  );
  return { dataDir, logKey: keys.log.vkey, member, publicKey, createdMemberKey, profileUpdated };
}

/** A new pin: the first entry seen under the previous one says nothing about the new log. */
function withoutLedgerStart(profile: Profile | undefined): Omit<Profile, 'ledgerStart'> | undefined {
  if (profile === undefined) return undefined;
  const { ledgerStart: _dropped, ...rest } = profile;
  return rest;
}

export function registerInitCommand(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description("Create a tenant's keys in the data directory and the first admin's key in COVENANT_HOME")
    .option('--data-dir <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--tenant <name>', 'tenant', parseTenant, DEFAULT_TENANT)
    .option('--origin <origin>', 'checkpoint origin line (default covenant/<tenant>)')
    .option('--name <member>', "the first admin's member name", 'admin')
    .addOption(algOption())
    .action(async (options: InitOptions, command: Command) => {
      const server = command.optsWithGlobals<{ server?: string }>().server;
      // An existing key keeps its profile name unless --name is given explicitly.
      const keepName = command.getOptionValueSource('name') !== 'cli';
      const result = await initialise(ctx, { ...options, keepName, ...(server ? { server } : {}) });
      ctx.out.line(`initialised tenant ${options.tenant} in ${result.dataDir}`);
      ctx.out.line(`log key       ${result.logKey}`);
      ctx.out.line(`admin member  ${result.member} (${result.createdMemberKey ? 'new key' : 'existing key'} ${memberKeyPath(ctx.home())})`);
      ctx.out.line(`public key    ${result.publicKey}`);
    });
}
