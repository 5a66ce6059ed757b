import type { Command } from 'commander';
import { encodeName } from '../client.js';
import type { CliContext } from '../context.js';

interface Workload {
  name: string;
  createdAt: string;
  createdBy: string;
  policy?: string | null;
  releases?: { version: string; status: string }[];
}

export function registerWorkloadCommands(program: Command, ctx: CliContext): void {
  const workload = program.command('workload').description('Workloads: stable identities that instances attest as');

  workload
    .command('create <name>')
    .description('Create a workload, e.g. payments/ingest')
    .action(async (name: string, _options, command: Command) => {
      const created = await (await ctx.client(command)).post<Workload>('/v1/workloads', { name });
      ctx.out.line(`created workload ${created.name}`);
    });

  workload
    .command('list')
    .description('List workloads')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { workloads } = await (await ctx.client(command)).get<{ workloads: Workload[] }>('/v1/workloads');
      if (options.json) return ctx.out.json(workloads);
      ctx.out.table(workloads, ['name', 'createdAt', 'createdBy']);
    });

  workload
    .command('show <name>')
    .description('Show a workload, its policy version and releases')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const shown = await (await ctx.client(command)).get<Workload>(`/v1/workloads/${encodeName(name)}`);
      if (options.json) return ctx.out.json(shown);
      ctx.out.line(`workload  ${shown.name}`);
      ctx.out.line(`created   ${shown.createdAt} by ${shown.createdBy}`);
      ctx.out.line(`policy    ${shown.policy ?? '(none)'}`);
      ctx.out.line('releases');
      ctx.out.table(shown.releases ?? [], ['version', 'status']);
    });
}
