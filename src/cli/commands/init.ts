import { createPublicKey } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createTenantKeys, defaultOrigin } from '../../app/tenant-keys.js';
import { generateMemberKey, type MemberKeyAlg } from '../../ceremony/member-key.js';
import { DEFAULT_TENANT } from '../../core/model.js';
import type { CliContext } from '../context.js';
import { DEFAULT_SERVER, memberKeyPath, readMemberKey, readProfile, writeMemberKey, writeProfile } from '../home.js';
import { algOption } from './member.js';

export const DEFAULT_DATA_DIR = '.covenant';

export interface InitOptions {
  readonly dataDir: string;
  readonly tenant: string;
  readonly origin?: string;
  readonly name: string;
  readonly alg: MemberKeyAlg;
  readonly server?: string;
}

export interface InitResult {
  readonly dataDir: string;
  readonly logKey: string;
  readonly member: string;
  readonly publicKey: string;
  readonly createdMemberKey: boolean;
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
  let member = profile?.member ?? options.name;
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
  await writeProfile(home, {
    ...profile,
    member,
    server: options.server ?? profile?.server ?? DEFAULT_SERVER,
    tenant: options.tenant,
    logKey: keys.log.vkey,
  });
  return { dataDir, logKey: keys.log.vkey, member, publicKey, createdMemberKey };
}

export function registerInitCommand(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description("Create a tenant's keys in the data directory and the first admin's key in COVENANT_HOME")
    .option('--data-dir <dir>', 'data directory', DEFAULT_DATA_DIR)
    .option('--tenant <name>', 'tenant', DEFAULT_TENANT)
    .option('--origin <origin>', 'checkpoint origin line (default covenant/<tenant>)')
    .option('--name <member>', "the first admin's member name", 'admin')
    .addOption(algOption())
    .action(async (options: InitOptions, command: Command) => {
      const server = command.optsWithGlobals<{ server?: string }>().server;
      const result = await initialise(ctx, { ...options, ...(server ? { server } : {}) });
      ctx.out.line(`initialised tenant ${options.tenant} in ${result.dataDir}`);
      ctx.out.line(`log key       ${result.logKey}`);
      ctx.out.line(`admin member  ${result.member} (${result.createdMemberKey ? 'new key' : 'existing key'} ${memberKeyPath(ctx.home())})`);
      ctx.out.line(`public key    ${result.publicKey}`);
    });
}
