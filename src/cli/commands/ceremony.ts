import { readFile, writeFile } from 'node:fs/promises';
import { Argument, Option, type Command } from 'commander';
import { signDecision } from '../../ceremony/decision-signature.js';
import { ACTION_CLASSES } from '../../ceremony/gate.js';
import { loadPrivateKey } from '../../ceremony/member-key.js';
import type { ApprovalRule } from '../../core/constitution.js';
import { formatDuration } from '../../core/duration.js';
import { CovenantError } from '../../core/errors.js';
import { readDecisionMessage, type Decision } from '../../core/proposal.js';
import type { Client } from '../client.js';
import { collect, type CliContext } from '../context.js';
import { formatFields } from '../output.js';
import { readInput } from './evidence.js';
import { parseCount } from './release.js';

interface ProposalView {
  id: string;
  status: string;
  action: string;
  command: string;
  target: string;
  proposer: string;
  createdAt: string;
  expiresAt: string;
  rule: ApprovalRule;
  approvals: string[];
  needed: number;
  closedReason?: string;
}

interface VoteReply {
  id: string;
  status: string;
  approvals: string[];
  needed: number;
  reason?: string;
}

/** What `proposal sign` writes and `proposal approve --signature` reads. */
interface SignatureFile {
  proposal: string;
  member: string;
  decision: Decision;
  signature: string;
}

const DECISIONS = ['approve', 'reject'] as const;

function describeRule(rule: ApprovalRule): string {
  const parts = [`${rule.threshold} of ${rule.role}`, rule.proposerCounts ? 'proposer counts' : 'proposer does not count', `expires after ${formatDuration(rule.expirySeconds)}`];
  if (rule.vetoRoles.length > 0) parts.push(`veto: ${rule.vetoRoles.join(', ')}`);
  return parts.join(', ');
}

async function readSignatureFile(path: string): Promise<SignatureFile> {
  const text = Buffer.from(await readInput(path, 'signature file')).toString('utf8');
  let parsed: Partial<SignatureFile>;
  try {
    parsed = JSON.parse(text) as Partial<SignatureFile>;
  } catch {
    throw new CovenantError('bad-request', `${path} is not a signature file (JSON written by covenant proposal sign)`);
  }
  if (typeof parsed.proposal !== 'string' || typeof parsed.member !== 'string' || typeof parsed.signature !== 'string' || !(DECISIONS as readonly unknown[]).includes(parsed.decision)) {
    throw new CovenantError('bad-request', `${path} lacks proposal, member, decision or signature`);
  }
  return parsed as SignatureFile;
}

/** Signs this member's decision with the key in COVENANT_HOME, after fetching exactly what is signed. */
async function signOnline(ctx: CliContext, client: Client, id: string, decision: Decision): Promise<SignatureFile> {
  const { readMemberKey, unsignedReason } = await import('../home.js');
  const key = await readMemberKey(ctx.home());
  const profile = await ctx.profile();
  if (key === undefined || profile === undefined) throw new CovenantError('unauthenticated', unsignedReason(ctx.home(), key !== undefined));
  const bytes = new TextEncoder().encode(await client.text(`/v1/proposals/${encodeURIComponent(id)}/message?decision=${decision}`));
  const message = readDecisionMessage(bytes);
  return { proposal: message.id, member: profile.member, decision, signature: Buffer.from(signDecision(key, bytes)).toString('base64') };
}

async function submit(ctx: CliContext, client: Client, vote: SignatureFile): Promise<void> {
  const reply = await client.post<VoteReply>(`/v1/proposals/${vote.proposal}/votes`, { member: vote.member, decision: vote.decision, signature: vote.signature });
  const tally = `${reply.approvals.length} of ${reply.needed} approvals${reply.approvals.length > 0 ? ` (${reply.approvals.join(', ')})` : ''}`;
  if (reply.status === 'failed') throw new CovenantError('conflict', `proposal ${reply.id} was approved but its change was refused: ${reply.reason ?? ''}`);
  ctx.out.line(`proposal ${reply.id}: ${reply.status}; ${tally}${reply.reason ? `: ${reply.reason}` : ''}`);
}

export function registerCeremonyCommands(program: Command, ctx: CliContext): void {
  const constitution = program.command('constitution').description('Who must approve each class of change');

  constitution
    .command('show')
    .description('The approval rule of every class of change')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { rules } = await (await ctx.client(command)).get<{ rules: { action: string; rule: ApprovalRule; default: boolean; setBy?: string; setAt?: string }[] }>('/v1/constitution');
      if (options.json) return ctx.out.json(rules);
      ctx.out.table(
        rules.map((r) => ({ class: r.action, rule: describeRule(r.rule), set: r.default ? '(default)' : `${r.setAt ?? ''} by ${r.setBy ?? ''}` })),
        ['class', 'rule', 'set'],
      );
    });

  constitution
    .command('set')
    .addArgument(new Argument('<action-class>', 'the class of change the rule governs').choices(ACTION_CLASSES))
    .description("Set a class's rule (a change of the constitution, approved under its own rule)")
    .requiredOption('--threshold <m>', 'approvals needed', parseCount)
    .requiredOption('--role <role>', 'the role approvers (and the proposer) must hold')
    .option('--proposer-counts', "count the proposer's own signed request as one approval")
    .option('--expiry <duration>', 'how long a proposal stays open, e.g. 72h (default)')
    .option('--veto-role <role>', 'members with this role may reject outright (repeatable)', collect)
    .action(async (action: string, options: { threshold: number; role: string; proposerCounts?: boolean; expiry?: string; vetoRole?: string[] }, command: Command) => {
      const set = await (await ctx.client(command)).post<{ action: string; rule: ApprovalRule }>(`/v1/constitution/${action}`, {
        threshold: options.threshold,
        role: options.role,
        ...(options.proposerCounts ? { proposerCounts: true } : {}),
        ...(options.expiry ? { expiry: options.expiry } : {}),
        ...(options.vetoRole ? { vetoRoles: options.vetoRole } : {}),
      });
      ctx.out.line(`${set.action}: ${describeRule(set.rule)}`);
    });

  const proposal = program.command('proposal').description('Changes waiting for approval: list, inspect, approve or reject, sign offline');

  proposal
    .command('list')
    .description('Proposals, oldest first')
    .addOption(new Option('--status <status>', 'only those').choices(['open', 'expired', 'executed', 'failed', 'rejected', 'invalidated']))
    .option('--json', 'print JSON')
    .action(async (options: { status?: string; json?: boolean }, command: Command) => {
      const { proposals } = await (await ctx.client(command)).get<{ proposals: ProposalView[] }>('/v1/proposals', { status: options.status });
      if (options.json) return ctx.out.json(proposals);
      ctx.out.table(
        proposals.map((p) => ({ ...p, id: p.id.slice(0, 16), approvals: `${p.approvals.length}/${p.needed}` })),
        ['id', 'status', 'command', 'target', 'proposer', 'approvals', 'expiresAt'],
      );
    });

  proposal
    .command('show <id>')
    .description('A proposal: what it runs, the rule it is counted against, who decided')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const shown = await (await ctx.client(command)).get<ProposalView & { document: { args: unknown }; votes: { member: string; decision: string; at: string }[] }>(`/v1/proposals/${encodeURIComponent(id)}`);
      if (options.json) return ctx.out.json(shown);
      ctx.out.line(
        formatFields([
          ['proposal', shown.id],
          ['status', `${shown.status}${shown.closedReason ? `: ${shown.closedReason}` : ''}`],
          ['command', `${shown.command} (${shown.action})`],
          ['target', shown.target],
          ['proposer', shown.proposer],
          ['created', shown.createdAt],
          ['expires', shown.expiresAt],
          ['rule', describeRule(shown.rule)],
          ['approvals', `${shown.approvals.length} of ${shown.needed}`],
        ]),
      );
      for (const vote of shown.votes) ctx.out.line(`  ${vote.decision} by ${vote.member} at ${vote.at}`);
      ctx.out.line('arguments');
      ctx.out.line(JSON.stringify(shown.document.args, null, 2).replace(/^/gm, '  '));
    });

  for (const decision of DECISIONS) {
    proposal
      .command(`${decision} [id]`)
      .description(`${decision === 'approve' ? 'Approve' : 'Reject (veto, or withdraw your own)'} a proposal: sign with your key, or submit an offline --signature file`)
      .option('--signature <file>', 'a signature file written by `covenant proposal sign`')
      .action(async (id: string | undefined, options: { signature?: string }, command: Command) => {
        if ((id === undefined) === (options.signature === undefined)) command.error('error: give a proposal id, or --signature <file>', { exitCode: 2, code: 'covenant.usage' });
        const client = await ctx.client(command);
        const vote = options.signature !== undefined ? await readSignatureFile(options.signature) : await signOnline(ctx, client, id!, decision);
        if (vote.decision !== decision) throw new CovenantError('bad-request', `the signature file holds a decision to ${vote.decision}, not to ${decision}`);
        await submit(ctx, client, vote);
      });
  }

  proposal
    .command('export <id>')
    .description('Write the exact bytes to sign for a decision (canonical JSON with the whole proposal), for an offline or hardware signer')
    .addOption(new Option('--decision <decision>', 'what the signature will say').choices(DECISIONS).default('approve'))
    .option('--out <file>', 'where to write them (default: proposal-<id>.<decision>.json)')
    .action(async (id: string, options: { decision: Decision; out?: string }, command: Command) => {
      const text = await (await ctx.client(command)).text(`/v1/proposals/${encodeURIComponent(id)}/message?decision=${options.decision}`);
      const message = readDecisionMessage(new TextEncoder().encode(text));
      const out = options.out ?? `proposal-${message.id.slice(0, 16)}.${options.decision}.json`;
      await writeFile(out, text);
      ctx.out.line(`wrote ${out}: ${options.decision} ${message.document.command} on ${message.document.target}, proposed by ${message.document.proposer}`);
    });

  proposal
    .command('sign <exported>')
    .description('Sign an exported decision offline with a member key file (no server needed)')
    .requiredOption('--key <file>', 'the member private key (PEM, Ed25519 or ECDSA P-256)')
    .requiredOption('--member <name>', 'the member the key belongs to')
    .option('--out <file>', 'where to write the signature file (default: <exported>.sig.json)')
    .action(async (exported: string, options: { key: string; member: string; out?: string }) => {
      const bytes = await readInput(exported, 'exported decision');
      const message = readDecisionMessage(bytes);
      let pem: string;
      try {
        pem = await readFile(options.key, 'utf8');
      } catch (error) {
        throw new CovenantError('bad-request', `cannot read key file ${options.key}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const signature: SignatureFile = { proposal: message.id, member: options.member, decision: message.decision, signature: Buffer.from(signDecision(loadPrivateKey(pem), bytes)).toString('base64') };
      const out = options.out ?? `${exported}.sig.json`;
      await writeFile(out, `${JSON.stringify(signature, null, 2)}\n`);
      ctx.out.line(`signed ${message.decision} of proposal ${message.id.slice(0, 16)} (${message.document.command} on ${message.document.target}) as ${options.member}: ${out}`);
    });
}
