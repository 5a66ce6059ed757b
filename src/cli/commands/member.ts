import { Option, type Command } from 'commander';
import { generateMemberKey, MEMBER_KEY_ALGS, type MemberKeyAlg } from '../../ceremony/member-key.js';
import { encodeName } from '../client.js';
import { collect, type CliContext } from '../context.js';
import { memberKeyPath, readProfile, writeMemberKey, writeProfile } from '../home.js';

interface MemberView {
  name: string;
  alg: string;
  publicKey: string;
  thumbprint: string;
  roles: string[];
  status: string;
  createdAt: string;
}

export const algOption = (): Option => new Option('--alg <alg>', 'key algorithm').choices(MEMBER_KEY_ALGS).default('ed25519');

export function registerMemberCommands(program: Command, ctx: CliContext): void {
  const member = program.command('member').description('Members: the people whose keys sign changes');

  member
    .command('keygen')
    .description('Create a member key in COVENANT_HOME and print its public key')
    .requiredOption('--name <name>', 'the member name this key will be enrolled as')
    .addOption(algOption())
    .action(async (options: { name: string; alg: MemberKeyAlg }) => {
      const key = generateMemberKey(options.alg);
      await writeMemberKey(ctx.home(), key.privateKeyPem);
      const profile = await readProfile(ctx.home());
      await writeProfile(ctx.home(), { ...profile, member: options.name });
      ctx.out.error(`private key written to ${memberKeyPath(ctx.home())} (mode 0600)`);
      ctx.out.line(key.publicKey);
    });

  member
    .command('add <name>')
    .description('Enrol a member: a public key (base64 SPKI or PEM) with roles')
    .requiredOption('--key <public key>', 'the public key printed by `covenant member keygen`')
    .requiredOption('--role <role>', 'a role, e.g. admin (repeatable)', collect)
    .action(async (name: string, options: { key: string; role: string[] }, command: Command) => {
      const added = await (await ctx.client(command)).post<MemberView>('/v1/members', { name, publicKey: options.key, roles: options.role });
      ctx.out.line(`added member ${added.name} (${added.alg}, ${added.thumbprint.slice(0, 16)}) with roles ${added.roles.join(', ')}`);
    });

  member
    .command('list')
    .description('List members')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { members } = await (await ctx.client(command)).get<{ members: MemberView[] }>('/v1/members');
      if (options.json) return ctx.out.json(members);
      ctx.out.table(
        members.map((m) => ({ ...m, thumbprint: m.thumbprint.slice(0, 16) })),
        ['name', 'status', 'roles', 'alg', 'thumbprint', 'createdAt'],
      );
    });

  member
    .command('remove <name>')
    .description('Remove a member (its key can no longer sign)')
    .action(async (name: string, _options, command: Command) => {
      await (await ctx.client(command)).delete(`/v1/members/${encodeName(name)}`);
      ctx.out.line(`removed member ${name}`);
    });
}
