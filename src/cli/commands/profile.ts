import { createPublicKey } from 'node:crypto';
import { InvalidArgumentError, type Command } from 'commander';
import { CovenantError } from '../../core/errors.js';
import type { Client } from '../client.js';
import type { CliContext } from '../context.js';
import { readMemberKey, writeProfile, type Profile } from '../home.js';
import { formatFields } from '../output.js';
import { parseTenant } from './init.js';

/** A log's first entry: what tells one ledger from another started later. */
export interface LedgerStart {
  /** Hex leaf hash. */
  readonly leafHash: string;
  readonly time: string;
  /** The log key its `tenant.created` entry names (undefined if the first entry is something else). */
  readonly logVkey: string | undefined;
}

export async function ledgerStartOf(client: Client): Promise<LedgerStart | undefined> {
  const page = await client.get<{ entries: { type: string; time: string; body: string; leafHash: string | null }[] }>('/v1/audit/raw', { from: 0, limit: 1 });
  const first = page.entries[0];
  if (first === undefined || first.leafHash === null) return undefined;
  let logVkey: string | undefined;
  if (first.type === 'tenant.created') {
    try {
      const payload = (JSON.parse(Buffer.from(first.body, 'base64').toString('utf8')) as { payload?: { logVkey?: unknown } }).payload;
      if (typeof payload?.logVkey === 'string') logVkey = payload.logVkey;
    } catch {
      // Not JSON: audit verify reports that; here it only means the key is unknown.
    }
  }
  return { leafHash: first.leafHash, time: first.time, logVkey };
}

/** The member this key is on the server: the profile's name is only a guess after starting over. */
async function memberOfKey(client: Client, publicKey: string): Promise<string | undefined> {
  const { members } = await client.get<{ members: { name: string; publicKey: string; status: string }[] }>('/v1/members');
  return members.find((member) => member.publicKey === publicKey && member.status === 'active')?.name;
}

export function registerProfileCommands(program: Command, ctx: CliContext): void {
  const profile = program.command('profile').description('The profile in COVENANT_HOME: member name, server and the pinned log key');

  profile
    .command('reset')
    .description("Pin the server's current log key in the profile (after starting over with a new data directory), or re-create a lost profile for the member key in COVENANT_HOME; the key is kept")
    .option('--yes', 'confirm: the pinned log key is replaced, and audit verify will trust the new log from now on')
    .option('--name <member>', 'member name of the key (default: looked up on the server by the public key)')
    .option('--tenant <name>', "the tenant (default: the profile's, else default)", parseTenant)
    .option('--log-key <vkey>', "pin this note verifier key instead of the one the server serves (e.g. from the new data directory's covenant init output)")
    .action(async (options: { yes?: boolean; name?: string; tenant?: string; logKey?: string }, command: Command) => {
      const home = ctx.home();
      const key = await readMemberKey(home);
      if (key === undefined) throw new CovenantError('bad-request', `no member key in ${home}: nothing to re-pin; run \`covenant init\` to create one`);
      const current = await ctx.profile();
      const client = await ctx.client(command);
      const publicKey = createPublicKey(key.key).export({ type: 'spki', format: 'der' }).toString('base64');
      const logKey = options.logKey ?? (await client.text('/v1/audit/log-key')).trim();
      const member = options.name ?? (await memberOfKey(client, publicKey)) ?? current?.member;
      if (member === undefined) {
        throw new CovenantError('not-found', `the key in ${home} is not an active member of ${client.server}; give --name if it is enrolled under a name this server does not list`);
      }
      const start = await ledgerStartOf(client);
      const next: Profile = {
        member,
        server: client.server,
        tenant: options.tenant ?? current?.tenant ?? 'default',
        logKey,
        pinnedAt: new Date().toISOString(),
        ...(start === undefined ? {} : { ledgerStart: start.leafHash }),
      };
      ctx.out.line(
        formatFields([
          ['member', member],
          ['server', client.server],
          ['pinned log key', current?.logKey ?? '(none)'],
          ['new log key', logKey],
        ]),
      );
      if (options.yes !== true) {
        throw new InvalidArgumentError('nothing changed: re-pinning makes audit verify trust this log from now on; run again with --yes if you started over on purpose');
      }
      await writeProfile(home, next);
      ctx.out.line(`pinned in ${home}/profile.json`);
    });
}
