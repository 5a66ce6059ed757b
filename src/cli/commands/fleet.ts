import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import { encodeName } from '../client.js';
import type { CliContext } from '../context.js';
import { fleetTable } from './rollout.js';

interface ComplianceView {
  workload: string;
  at: string;
  compliant: number;
  outstanding: number;
  groups: { release: string | null; standing: string; deadline: string | null; secondsLeft: number | null; instances: { instance: string; tee: string; status: string; lastSeen: string }[] }[];
}

export function registerFleetCommands(program: Command, ctx: CliContext): void {
  const fleet = program.command('fleet').description('The fleet inventory: instances by release and their last verdicts');

  fleet
    .command('status <workload>')
    .description('Instances by matched release and latest verdict')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const { fleet: rows } = await (await ctx.client(command)).get<{ fleet: { release: string | null; status: string; instances: number }[] }>(`/v1/workloads/${encodeName(workload)}/fleet`);
      if (options.json) return ctx.out.json(rows);
      ctx.out.table(fleetTable(rows), ['release', 'affirming', 'warning', 'contraindicated', 'total']);
    });

  fleet
    .command('compliance <workload>')
    .description('Per release on its way out: the instances still on it, when each was last seen, and the time left')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const report = await (await ctx.client(command)).get<ComplianceView>(`/v1/workloads/${encodeName(workload)}/fleet/compliance`);
      if (options.json) return ctx.out.json(report);
      ctx.out.line(`${report.workload} at ${report.at}: ${report.compliant} instances on current releases, ${report.outstanding} outstanding`);
      for (const group of report.groups) {
        const left = group.secondsLeft === null ? '' : `, deadline ${group.deadline} (${formatDuration(group.secondsLeft)}${group.secondsLeft >= 0 ? ' left' : ''})`;
        ctx.out.line('');
        ctx.out.line(`${group.release ?? '(no matching release)'}: ${group.standing}${left}, ${group.instances.length} instances`);
        ctx.out.table(
          group.instances.map((i) => ({ ...i, instance: i.instance.slice(0, 16) })),
          ['instance', 'tee', 'status', 'lastSeen'],
        );
      }
    });
}
