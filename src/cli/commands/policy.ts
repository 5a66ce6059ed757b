import { Option, type Command } from 'commander';
import { CovenantError } from '../../core/errors.js';
import { formatPolicyDiff, type PolicyDiff } from '../../policy/diff.js';
import { encodeName } from '../client.js';
import { RELATIVE_FORMS } from '../../core/duration.js';
import { collect, timeArgument, type CliContext } from '../context.js';
import { readInput } from './evidence.js';
import { collectPairs, parseCount } from './release.js';

interface PolicyView {
  id: string;
  number: number;
  predecessor: string | null;
  actor: string;
  reason: string;
  createdAt: string;
  accepted: { version: string; digest: string; until?: string }[];
  securityVersionFloor: number;
  requiredTcbStatus: string[];
  debugForbidden: boolean;
  rules: Record<string, string>;
}

interface DryRunView {
  candidate: string;
  instances: { instance: string; tee: string; release: string | null; lastSeen: string; current: string; wouldBe: string; reasons: { code: string }[] }[];
  counts: Record<'affirming' | 'warning' | 'contraindicated' | 'unavailable', number>;
}

async function readPolicyUpdate(path: string): Promise<unknown> {
  const text = Buffer.from(await readInput(path, 'candidate policy')).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CovenantError('bad-request', `${path} is not JSON: ${(error as Error).message}`);
  }
}

function printPolicy(ctx: CliContext, policy: PolicyView): void {
  ctx.out.line(`policy version ${policy.number}  ${policy.id}`);
  ctx.out.line(`predecessor     ${policy.predecessor ?? '(none)'}`);
  ctx.out.line(`created         ${policy.createdAt} by ${policy.actor}: ${policy.reason}`);
  ctx.out.line(`accepted        ${policy.accepted.map((a) => (a.until ? `${a.version} (until ${a.until})` : a.version)).join(', ') || '(none)'}`);
  ctx.out.line(`floor           ${policy.securityVersionFloor}`);
  ctx.out.line(`tcb status      ${policy.requiredTcbStatus.join(', ')}`);
  ctx.out.line(`debug           ${policy.debugForbidden ? 'forbidden' : 'allowed'}`);
  for (const [name, rule] of Object.entries(policy.rules)) ctx.out.line(`rule ${name}: ${rule}`);
}

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program.command('policy').description('Policy versions: what the verifier accepts for a workload');
  const base = (workload: string): string => `/v1/workloads/${encodeName(workload)}/policy`;

  policy
    .command('update <workload>')
    .description('Create the next policy version')
    .option('--accept <version>', 'accept a release (repeatable)', collect)
    .option('--remove <version>', 'stop accepting a release for good: it becomes retired and no later update can accept it again (only break-glass, for a time box); repeatable', collect)
    .option('--floor <n>', 'security-version floor (never decreases)', parseCount)
    .option('--rule <name=CEL>', 'add or replace a custom CEL rule (repeatable)', collectPairs)
    .option('--drop-rule <name>', 'drop a custom rule (repeatable)', collect)
    .addOption(new Option('--allow-debug', 'accept debug-mode TEEs (forbidden by default)').conflicts('forbidDebug'))
    .option('--forbid-debug', 'forbid debug-mode TEEs again')
    .option('--tcb <status>', 'acceptable TCB status (repeatable)', collect)
    .requiredOption('--reason <text>', 'why: recorded in the policy version and the ledger')
    .action(async (workload: string, options: Record<string, unknown>, command: Command) => {
      const body = {
        ...(options.accept ? { accept: options.accept } : {}),
        ...(options.remove ? { remove: options.remove } : {}),
        ...(options.floor !== undefined ? { floor: options.floor } : {}),
        ...(options.rule ? { rules: options.rule } : {}),
        ...(options.dropRule ? { dropRules: options.dropRule } : {}),
        ...(options.allowDebug ? { debug: 'allow' } : options.forbidDebug ? { debug: 'forbid' } : {}),
        ...(options.tcb ? { requiredTcbStatus: options.tcb } : {}),
        reason: options.reason,
      };
      const created = await (await ctx.client(command)).post<PolicyView>(base(workload), body);
      ctx.out.line(`policy version ${created.number} of ${workload}: ${created.id}`);
    });

  policy
    .command('show <workload>')
    .description('Show the policy version in force, or --version <hash>')
    .option('--version <hash>', 'a policy version id (or a prefix of at least 8 hex digits)')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { version?: string; json?: boolean }, command: Command) => {
      const shown = await (await ctx.client(command)).get<PolicyView>(base(workload), { version: options.version });
      if (options.json) return ctx.out.json(shown);
      printPolicy(ctx, shown);
    });

  policy
    .command('history <workload>')
    .description('All policy versions of a workload, oldest first')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { json?: boolean }, command: Command) => {
      const { versions } = await (await ctx.client(command)).get<{ versions: PolicyView[] }>(`${base(workload)}/history`);
      if (options.json) return ctx.out.json(versions);
      ctx.out.table(
        versions.map((v) => ({ ...v, id: v.id.slice(0, 16), accepted: v.accepted.map((a) => a.version) })),
        ['number', 'id', 'createdAt', 'actor', 'accepted', 'securityVersionFloor', 'reason'],
      );
    });

  policy
    .command('diff <workload> <v1> <v2>')
    .description('What changed between two policy versions')
    .option('--json', 'print JSON')
    .action(async (workload: string, v1: string, v2: string, options: { json?: boolean }, command: Command) => {
      const result = await (await ctx.client(command)).get<{ from: string; to: string; diff: PolicyDiff }>(`${base(workload)}/diff`, { from: v1, to: v2 });
      if (options.json) return ctx.out.json(result);
      ctx.out.line(`--- ${result.from}`);
      ctx.out.line(`+++ ${result.to}`);
      ctx.out.line(formatPolicyDiff(result.diff));
    });

  policy
    .command('dry-run <workload>')
    .description('Re-appraise every known instance against a candidate policy; changes nothing')
    .requiredOption('--policy <file|version>', 'a JSON file with the fields of `policy update` (accept, remove, floor, rules, dropRules, debug, requiredTcbStatus), or a policy version id')
    .option('--json', 'print JSON')
    .action(async (workload: string, options: { policy: string; json?: boolean }, command: Command) => {
      const body = /^[0-9a-f]{8,64}$/.test(options.policy) ? { version: options.policy } : { update: await readPolicyUpdate(options.policy) };
      const result = await (await ctx.client(command)).post<DryRunView>(`${base(workload)}/dry-run`, body);
      if (options.json) return ctx.out.json(result);
      ctx.out.line(`candidate ${result.candidate} for ${workload}`);
      ctx.out.table(
        result.instances.map((i) => ({ ...i, instance: i.instance.slice(0, 16), reasons: i.reasons.map((r) => r.code) })),
        ['instance', 'tee', 'release', 'lastSeen', 'current', 'wouldBe', 'reasons'],
      );
      const { affirming, warning, contraindicated, unavailable } = result.counts;
      ctx.out.line(`${result.instances.length} instances: ${affirming} affirming, ${warning} warning, ${contraindicated} contraindicated, ${unavailable} without retained evidence`);
    });

  policy
    .command('at')
    .description('The policy version in force at a time')
    .argument('<workload>')
    .argument('<time>', RELATIVE_FORMS.past, timeArgument('past'))
    .option('--json', 'print JSON')
    .action(async (workload: string, time: Date, options: { json?: boolean }, command: Command) => {
      const shown = await (await ctx.client(command)).get<PolicyView>(`${base(workload)}/at`, { time: time.toISOString() });
      if (options.json) return ctx.out.json(shown);
      printPolicy(ctx, shown);
    });

  policy
    .command('break-glass <workload>')
    .description('Emergency: accept releases the policy does not (even retired or revoked ones) for a time box (the break-glass rule); they leave again unless ratified')
    .requiredOption('--accept <version>', 'a release to accept again (repeatable)', collect)
    .requiredOption('--reason <text>', 'mandatory: why, recorded and flagged in every audit report')
    .option('--duration <duration>', 'the time box, e.g. 30m or 4h (default 1h, at most 7d)')
    .action(async (workload: string, options: { accept: string[]; reason: string; duration?: string }, command: Command) => {
      const created = await (await ctx.client(command)).post<PolicyView>(`/v1/workloads/${encodeName(workload)}/break-glass`, {
        accept: options.accept,
        reason: options.reason,
        ...(options.duration ? { duration: options.duration } : {}),
      });
      const until = created.accepted.find((a) => options.accept.includes(a.version))?.until;
      ctx.out.line(`BREAK-GLASS: policy version ${created.number} of ${workload} accepts ${options.accept.join(', ')} until ${until ?? '?'}; ratify with covenant policy ratify`);
    });

  policy
    .command('ratify <workload>')
    .description('Ratify a break-glass under the normal policy rule, so its releases stay accepted')
    .requiredOption('--version <version>', 'a release accepted under break-glass (repeatable)', collect)
    .requiredOption('--reason <text>', 'why: recorded in the ledger')
    .action(async (workload: string, options: { version: string[]; reason: string }, command: Command) => {
      const created = await (await ctx.client(command)).post<PolicyView>(`/v1/workloads/${encodeName(workload)}/break-glass/ratify`, { versions: options.version, reason: options.reason });
      ctx.out.line(`policy version ${created.number} of ${workload}: ${options.version.join(', ')} ratified`);
    });
}
