import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatDuration, parseDuration, RELATIVE_FORMS } from '../../core/duration.js';
import { CovenantError } from '../../core/errors.js';
import { DEADLINE_ACTIONS, parseWaves, type GateCondition } from '../../core/rollout.js';
import { encodeName, type Client } from '../client.js';
import { collect, timeArgument, type CliContext } from '../context.js';
import { formatFields } from '../output.js';
import { readInput } from './evidence.js';

export interface RolloutView {
  number: number;
  workload: string;
  status: 'active' | 'completed' | 'rolled-back';
  from: string[];
  to: string;
  waves: number[];
  wave: number;
  wavePercent: number;
  waveStartedAt: string;
  startedAt: string;
  actor: string;
  reason: string;
  deadline: string | null;
  onDeadline: string;
  secondsLeft: number | null;
  outcome?: { trigger: string; reason: string; actor: string; at: string };
  evaluation?: { verdict: string; conditions: GateCondition[] };
}

interface FleetRow {
  release: string | null;
  status: string;
  instances: number;
}

interface StatusView {
  rollout: RolloutView | null;
  fleet: FleetRow[];
  at: string;
}

const parseWaveList = (value: string): number[] => {
  try {
    return parseWaves(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^waves: /, ''));
  }
};

const parseSeconds = (value: string): number => {
  try {
    return parseDuration(value, 'duration');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^duration: /, ''));
  }
};

async function readGateFile(path: string): Promise<unknown> {
  const text = Buffer.from(await readInput(path, 'gates file')).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CovenantError('bad-request', `gates file ${path} is not JSON: ${(error as Error).message}`);
  }
}

const base = (workload: string): string => `/v1/workloads/${encodeName(workload)}`;

/** Instances by release, one column per verdict. */
/** `no-longer-accepted`: last accepted on a release the policy has since dropped (the server says so). */
export const FLEET_COLUMNS = ['release', 'affirming', 'warning', 'contraindicated', 'no-longer-accepted', 'total'];

export function fleetTable(rows: readonly FleetRow[]): object[] {
  const byRelease = new Map<string, Record<string, number | string>>();
  for (const row of rows) {
    const name = row.release ?? '(none)';
    const line = byRelease.get(name) ?? { release: name, affirming: 0, warning: 0, contraindicated: 0, 'no-longer-accepted': 0, total: 0 };
    line[row.status] = Number(line[row.status] ?? 0) + row.instances;
    line.total = Number(line.total) + row.instances;
    byRelease.set(name, line);
  }
  return [...byRelease.values()];
}

function bar(fraction: number, width = 30): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** The status as lines: a header, the wave and deadline, the gate's conditions, the fleet. */
export function statusLines(view: StatusView, options: { bars: boolean }): string[] {
  const r = view.rollout;
  if (r === null) return ['no rollout yet'];
  const lines = [`rollout #${r.number} of ${r.workload}: ${r.status}, ${r.from.join(', ') || '(nothing)'} → ${r.to}`];
  lines.push(`wave ${r.wave} of ${r.waves.length} (${r.wavePercent}% of the fleet), since ${r.waveStartedAt}`);
  if (r.deadline !== null) lines.push(`deadline ${r.deadline} (${r.onDeadline})${r.secondsLeft === null ? '' : `, ${formatDuration(r.secondsLeft)} left`}`);
  if (r.outcome !== undefined) lines.push(`ended ${r.outcome.at} by ${r.outcome.actor} (${r.outcome.trigger}): ${r.outcome.reason}`);
  if (r.evaluation !== undefined) {
    lines.push(`gate: ${r.evaluation.verdict}`);
    const width = Math.max(0, ...r.evaluation.conditions.map((c) => c.name.length));
    for (const c of r.evaluation.conditions) lines.push(`  ${c.name.padEnd(width)}  ${c.actual} (${c.required})  ${c.status}`);
  }
  const total = view.fleet.reduce((sum, row) => sum + row.instances, 0);
  const onTarget = view.fleet.filter((row) => row.release === r.to).reduce((sum, row) => sum + row.instances, 0);
  if (options.bars && total > 0) {
    lines.push(`${bar(onTarget / total)} ${((onTarget / total) * 100).toFixed(1)}% of ${total} instances on ${r.to} (wave target ${r.wavePercent}%)`);
    const accepting = view.fleet.filter((row) => row.status !== 'contraindicated').reduce((sum, row) => sum + row.instances, 0);
    lines.push(`${bar(accepting / total)} ${((accepting / total) * 100).toFixed(1)}% accepted at their last attestation`);
  } else {
    lines.push(`fleet: ${onTarget} of ${total} instances on ${r.to}`);
  }
  return lines;
}

/** One line per observation, for logs and pipes. */
function plainLine(view: StatusView): string {
  const r = view.rollout;
  if (r === null) return `${view.at} no rollout`;
  const total = view.fleet.reduce((sum, row) => sum + row.instances, 0);
  const onTarget = view.fleet.filter((row) => row.release === r.to).reduce((sum, row) => sum + row.instances, 0);
  const gate = r.evaluation === undefined ? '' : ` gate ${r.evaluation.verdict}${r.evaluation.conditions.length > 0 ? ` (${r.evaluation.conditions.map((c) => `${c.name} ${c.status}`).join(', ')})` : ''}`;
  return `${view.at} #${r.number} ${r.status} wave ${r.wave}/${r.waves.length} ${r.wavePercent}%${gate} ${r.to} ${onTarget}/${total}${r.outcome ? `: ${r.outcome.reason}` : ''}`;
}

const parseRolloutNumber = (value: string): number => {
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new InvalidArgumentError('must be a rollout number, 1 or more');
  return Number(value);
};

/** The latest rollout, or rollout `number` with the current fleet (an ended one comes from the history). */
async function watchedRollout(client: Client, workload: string, number: number | undefined): Promise<StatusView> {
  const view = await client.get<StatusView>(`${base(workload)}/rollout`);
  if (number === undefined || view.rollout?.number === number) return view;
  const { rollouts } = await client.get<{ rollouts: RolloutView[] }>(`${base(workload)}/rollouts`);
  const named = rollouts.find((r) => r.number === number);
  if (named === undefined) throw new CovenantError('not-found', `workload ${workload} has no rollout #${number}${view.rollout === null ? '' : ` (the latest is #${view.rollout.number})`}`);
  return { ...view, rollout: named };
}

async function printTransition(ctx: CliContext, client: Client, path: string, body: unknown, json: boolean | undefined): Promise<void> {
  const reply = await client.post<{ rollout: RolloutView; policy?: { number: number; id: string } }>(path, body);
  if (json) return ctx.out.json(reply);
  const r = reply.rollout;
  const where = r.status === 'active' ? `wave ${r.wave} of ${r.waves.length} (${r.wavePercent}%)` : r.status;
  ctx.out.line(`rollout #${r.number} of ${r.workload}: ${where}`);
  if (reply.policy !== undefined) ctx.out.line(`policy version ${reply.policy.number}: ${reply.policy.id}`);
}

export function registerRolloutCommands(program: Command, ctx: CliContext): void {
  const rollout = program.command('rollout').description('Governed rollouts: move a workload from one release to the next, wave by wave');

  rollout
    .command('start <workload>')
    .description('Start a rollout: the policy accepts the old releases and the new one before anything is deployed')
    .requiredOption('--to <version>', 'the release to move to')
    .option('--from <version>', 'a release being replaced (repeatable; default: every release accepted now)', collect)
    .option('--waves <percentages>', 'share of the fleet on the new release at each wave, e.g. 1,10,50,100 (default 100)', parseWaveList)
    .option('--gate <file>', 'gates file (JSON): minAffirming, maxContraindicatedPercent, minSoak, health, autoAdvance, autoRollback')
    .option('--deadline <time>', `when the old releases must be gone: ${RELATIVE_FORMS.future}`, timeArgument('future'))
    .addOption(new Option('--on-deadline <action>', 'at the deadline: enforce (drop the old releases) or rollback (drop the new one)').choices(DEADLINE_ACTIONS).default('enforce'))
    .option('--raise-floor', "on completion, raise the security-version floor to the new release's")
    .requiredOption('--reason <text>', 'why: recorded in the ledger')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { to: string; from?: string[]; waves?: number[]; gate?: string; deadline?: Date; onDeadline: string; raiseFloor?: boolean; reason: string; json?: boolean }, command: Command) => {
      const body = {
        to: options.to,
        ...(options.from ? { from: options.from } : {}),
        ...(options.waves ? { waves: options.waves } : {}),
        ...(options.gate ? { gate: await readGateFile(options.gate) } : {}),
        ...(options.deadline ? { deadline: options.deadline.toISOString(), onDeadline: options.onDeadline } : {}),
        ...(options.raiseFloor ? { raiseFloor: true } : {}),
        reason: options.reason,
      };
      await printTransition(ctx, await ctx.client(command), `${base(workload)}/rollout`, body, options.json);
    });

  rollout
    .command('advance <workload>')
    .description("End the current wave by hand (refused when its gate has failed, or while less than the wave's share of the live fleet is on the new release); after the last wave, complete")
    .option('--wave <n>', 'only if the rollout is at this wave (1-based): a retried command does not skip one', (v) => Number.parseInt(v, 10))
    .option('--reason <text>', 'recorded in the ledger')
    .option('--force', "move on although the fleet has not reached the wave's share (needs --reason; ledgered as forced)")
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { wave?: number; reason?: string; force?: boolean; json?: boolean }, command: Command) => {
      if (options.wave !== undefined && !(Number.isInteger(options.wave) && options.wave >= 1)) command.error('error: --wave must be a positive integer', { exitCode: 2, code: 'covenant.usage' });
      if (options.force && !options.reason) command.error('error: --force needs --reason', { exitCode: 2, code: 'covenant.usage' });
      await printTransition(ctx, await ctx.client(command), `${base(workload)}/rollout/advance`, { ...(options.wave ? { wave: options.wave } : {}), ...(options.reason ? { reason: options.reason } : {}), ...(options.force ? { force: true } : {}) }, options.json);
    });

  rollout
    .command('complete <workload>')
    .description('Complete now: only the new release is accepted; the old ones can never return (refused while live instances are still on them)')
    .requiredOption('--reason <text>', 'recorded in the ledger')
    .option('--force', 'complete although live instances are still on the old releases (ledgered as forced, with the reason)')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { reason: string; force?: boolean; json?: boolean }, command: Command) => {
      await printTransition(ctx, await ctx.client(command), `${base(workload)}/rollout/complete`, { reason: options.reason, ...(options.force ? { force: true } : {}) }, options.json);
    });

  rollout
    .command('rollback <workload>')
    .description('Roll back now: only the old releases are accepted (never blocked by a gate)')
    .requiredOption('--reason <text>', 'recorded in the ledger')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { reason: string; json?: boolean }, command: Command) => {
      await printTransition(ctx, await ctx.client(command), `${base(workload)}/rollout/rollback`, { reason: options.reason }, options.json);
    });

  rollout
    .command('status <workload>')
    .description('The rollout in progress (or the last one): wave, deadline, gate conditions, the fleet by release')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const view = await (await ctx.client(command)).get<StatusView>(`${base(workload)}/rollout`);
      if (options.json) return ctx.out.json(view);
      for (const line of statusLines(view, { bars: false })) ctx.out.line(line);
      ctx.out.table(fleetTable(view.fleet), FLEET_COLUMNS);
    });

  rollout
    .command('watch <workload>')
    .description('Follow the rollout in progress live (progress bars on a terminal, a line per change otherwise) until it ends; exit 1 on rollback. One that has already ended is refused unless named with --number')
    .option('--number <n>', 'the rollout to watch (as `rollout history` numbers them); an ended one prints how it ended', parseRolloutNumber)
    .option('--interval <duration>', 'how often to look, e.g. 2s', parseSeconds, 2)
    .option('--timeout <duration>', 'give up after this long (exit 1)', parseSeconds)
    .action(async (workload: string, options: { number?: number; interval: number; timeout?: number }, command: Command) => {
      const client = await ctx.client(command);
      const started = Date.now();
      let previous = '';
      for (let first = true; ; first = false) {
        const view = await watchedRollout(client, workload, options.number);
        // After a `rollout start` that was refused, the latest rollout is the previous,
        // finished one: showing it and exiting 0 would read as "the new one is done".
        if (first && options.number === undefined && view.rollout !== null && view.rollout.status !== 'active') {
          const r = view.rollout;
          throw new CovenantError('conflict', `no rollout of ${workload} in progress: the latest, #${r.number} (→ ${r.to}), ${r.status === 'completed' ? 'completed' : 'was rolled back'}${r.outcome ? ` at ${r.outcome.at}` : ''}; run with --number ${r.number} to watch it anyway`);
        }
        if (ctx.out.interactive) ctx.out.redraw([...statusLines(view, { bars: true }), `(every ${options.interval}s; Ctrl-C to stop watching)`]);
        else {
          const line = plainLine(view);
          // Time aside, unchanged lines are noise.
          const key = line.slice(line.indexOf(' ') + 1);
          if (key !== previous) ctx.out.line(line);
          previous = key;
        }
        const status = view.rollout?.status;
        if (status === undefined) throw new CovenantError('not-found', `workload ${workload} has no rollout to watch`);
        if (status === 'completed') return;
        // A script waiting on the rollout must fail when it is rolled back.
        if (status === 'rolled-back') throw new CovenantError('conflict', `rollout #${view.rollout!.number} was rolled back: ${view.rollout!.outcome?.reason ?? ''}`);
        if (options.timeout !== undefined && Date.now() - started >= options.timeout * 1000) throw new CovenantError('conflict', `rollout #${view.rollout!.number} still in progress after ${formatDuration(options.timeout)}`);
        await new Promise((resolve) => setTimeout(resolve, Math.max(options.interval, 1) * 1000));
      }
    });

  rollout
    .command('gate-token <workload>')
    .description('Issue the gate credential of the latest rollout for Argo Rollouts and Flagger: printed once, kept by Covenant only as a digest; it supersedes the previous one')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const issued = await (await ctx.client(command)).post<{ rollout: number; credential: string }>(`${base(workload)}/rollout/gate-credential`, {});
      if (options.json) return ctx.out.json(issued);
      // The credential alone on stdout, so a pipeline can pipe it into a Kubernetes Secret.
      ctx.out.line(issued.credential);
    });

  rollout
    .command('history <workload>')
    .description('Every rollout of the workload')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const { rollouts } = await (await ctx.client(command)).get<{ rollouts: RolloutView[] }>(`${base(workload)}/rollouts`);
      if (options.json) return ctx.out.json(rollouts);
      ctx.out.table(
        rollouts.map((r) => ({ ...r, move: `${r.from.join(',') || '-'} → ${r.to}`, ended: r.outcome?.at, trigger: r.outcome?.trigger, why: r.outcome?.reason ?? r.reason })),
        ['number', 'move', 'status', 'startedAt', 'ended', 'trigger', 'why'],
      );
    });

  rollout
    .command('signal <workload>')
    .description('Record an external health signal that rollout gates can require')
    .requiredOption('--source <name>', 'who measured it, e.g. prometheus')
    .addOption(new Option('--healthy', 'the workload is healthy').conflicts('unhealthy'))
    .option('--unhealthy', 'the workload is not healthy')
    .option('--detail <text>', 'what was measured')
    .action(async (workload: string, options: { source: string; healthy?: boolean; unhealthy?: boolean; detail?: string }, command: Command) => {
      if (options.healthy === undefined && options.unhealthy === undefined) command.error('error: give --healthy or --unhealthy', { exitCode: 2, code: 'covenant.usage' });
      const signal = await (await ctx.client(command)).post<{ source: string; healthy: boolean; at: string }>(`${base(workload)}/health`, {
        source: options.source,
        healthy: options.healthy === true,
        ...(options.detail ? { detail: options.detail } : {}),
      });
      ctx.out.line(formatFields([['source', signal.source], ['healthy', String(signal.healthy)], ['at', signal.at]]));
    });
}
