import type { Command } from 'commander';
import { formatDuration } from '../../core/duration.js';
import { encodeName } from '../client.js';
import type { CliContext } from '../context.js';
import { FLEET_COLUMNS, fleetTable } from './rollout.js';

interface FleetRow {
  release: string | null;
  status: string;
  instances: number;
}

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
    .command('status [workload]')
    .description("Instances by matched release and latest verdict: one workload's, or without a workload every workload's")
    .option('--json', 'print JSON')
    .action(async (workload: string | undefined, options: { json?: boolean }, command: Command) => {
      const client = await ctx.client(command);
      const fleetOf = async (name: string): Promise<FleetRow[]> => (await client.get<{ fleet: FleetRow[] }>(`/v1/workloads/${encodeName(name)}/fleet`)).fleet;
      if (workload !== undefined) {
        const rows = await fleetOf(workload);
        if (options.json) return ctx.out.json(rows);
        return ctx.out.table(fleetTable(rows), FLEET_COLUMNS);
      }
      // The server has no fleet-wide route: one request per workload, in order.
      const { workloads } = await client.get<{ workloads: { name: string }[] }>('/v1/workloads');
      const fleets: { workload: string; fleet: FleetRow[] }[] = [];
      for (const { name } of workloads) fleets.push({ workload: name, fleet: await fleetOf(name) });
      if (options.json) return ctx.out.json(fleets);
      ctx.out.table(
        fleets.flatMap(({ workload: name, fleet: rows }) => (rows.length === 0 ? [{ workload: name, release: '(no instances)' }] : fleetTable(rows).map((row) => ({ workload: name, ...row })))),
        ['workload', ...FLEET_COLUMNS],
      );
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
