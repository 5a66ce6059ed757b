import { InvalidArgumentError, Option, type Command } from 'commander';
import { compareStateWithLedger } from '../../app/state-check.js';
import { auditLog, type AuditReport, type AuditSource } from '../../ledger/audit.js';
import { storeAuditSource } from '../../ledger/audit-source.js';
import { LedgerReader } from '../../ledger/ledger.js';
import { openStore } from '../../store/open.js';
import type { Client } from '../client.js';
import type { CliContext } from '../context.js';
import { writeProfile, type Profile } from '../home.js';
import { formatFields } from '../output.js';
import { ledgerStartOf, type LedgerStart } from './profile.js';
import { RELATIVE_FORMS } from '../../core/duration.js';
import { timeArgument } from '../context.js';
import { parseCount } from './release.js';

/** Reads the log over HTTP: the auditor trusts the pinned key, not the server. */
export function httpAuditSource(client: Client): AuditSource {
  const bytes = (hex: string): Buffer => Buffer.from(hex, 'hex');
  return {
    async head() {
      const head = await client.get<{ treeSize: number; root: string }>('/v1/audit/head');
      return { size: head.treeSize, root: bytes(head.root) };
    },
    async entries(from, limit) {
      const page = await client.get<{ entries: { seq: number; type: string; actor: string; workload: string | null; time: string; body: string; leafHash: string | null }[] }>(
        '/v1/audit/raw',
        { from, limit },
      );
      return page.entries.map((e) => ({ ...e, body: Buffer.from(e.body, 'base64'), leafHash: e.leafHash === null ? null : bytes(e.leafHash) }));
    },
    async checkpoints() {
      const all: { size: number; root: Uint8Array; note: string; createdAt: string }[] = [];
      for (;;) {
        const after = all.length === 0 ? -1 : all[all.length - 1]!.size;
        const page = await client.get<{ checkpoints: { size: number; root: string; note: string; createdAt: string }[] }>('/v1/audit/checkpoints', { after });
        if (page.checkpoints.length === 0) return all;
        all.push(...page.checkpoints.map((cp) => ({ ...cp, root: bytes(cp.root) })));
      }
    },
    async consistency(from, to) {
      const proof = await client.get<{ hashes: string[] }>('/v1/audit/consistency', { from, to });
      return proof.hashes.map(bytes);
    },
  };
}

/** `audit verify` found the log altered: its own exit code, after the report is printed. */
export class VerificationFailed extends Error {}

/**
 * `audit verify` in local mode: the ledger as the store holds it, then the state tables
 * against a rebuild from that ledger (a comparison too costly to offer over the public
 * read API). Opens the store as the server does, so a running server's SQLite data
 * directory is refused (locked): verify a copy, or stop the server.
 */
async function verifyStore(ctx: CliContext, options: { tenant: string; vkey: string | undefined; dataDir: string | undefined; database: string | undefined; json: boolean }): Promise<void> {
  if (options.dataDir !== undefined && options.database !== undefined) throw new InvalidArgumentError('give --data-dir or --database, not both');
  const store = await openStore({ dataDir: options.dataDir ?? '.', ...(options.database === undefined ? {} : { storeUrl: options.database }) });
  try {
    let vkey = options.vkey;
    if (vkey === undefined) {
      const row = await store.db.selectFrom('tenants').select('log_vkey').where('id', '=', options.tenant).executeTakeFirst();
      if (row === undefined) throw new VerificationFailed(`no tenant ${options.tenant} in ${store.location}`);
      vkey = row.log_vkey;
      ctx.out.error(`warning: no pinned log key; trusting the store's (${vkey})`);
    }
    const report = await auditLog(storeAuditSource(new LedgerReader(store.db), options.tenant), { tenant: options.tenant, vkey });
    // State is compared with a ledger known good only: a rebuild from an altered one proves nothing.
    const difference = report.ok ? await compareStateWithLedger(store.db, options.tenant) : undefined;
    if (options.json) ctx.out.json({ ...report, ...(report.ok ? { state: difference === undefined ? { ok: true } : { ok: false, difference } } : {}) });
    else if (report.ok && difference === undefined) {
      ctx.out.line(`ok: ${report.entries} entries, ${report.checkpoints} checkpoints verified; tree size ${report.treeSize}, root ${report.root}; state matches the ledger`);
    }
    if (!report.ok) throw new VerificationFailed(`ledger verification failed at index ${report.finding!.index ?? '-'}: ${report.finding!.message}`);
    if (difference !== undefined) throw new VerificationFailed(`state differs from the ledger: ${difference.message}`);
  } finally {
    await store.close();
  }
}

export type PinCheck = 'same' | 'started-over' | 'other-key';

/**
 * Whether a server's log is the one the profile pinned. Another key is tampering unless
 * the log is plainly another one: created (its `tenant.created` entry) under the key it
 * now serves, and either not the first entry pinned or, before one was pinned, younger
 * than the pin. Either way verification fails; the difference is what the operator is
 * told to do. The entry is the server's word, so it only chooses the message.
 */
export function comparePin(profile: Profile, servedKey: string, first: LedgerStart | undefined): PinCheck {
  if (servedKey === profile.logKey) return 'same';
  if (first === undefined || first.logVkey !== servedKey) return 'other-key';
  if (profile.ledgerStart !== undefined) return first.leafHash === profile.ledgerStart ? 'other-key' : 'started-over';
  // A profile older than `pinnedAt` cannot say when it was pinned: the log's own first entry decides.
  return profile.pinnedAt === undefined || first.time > profile.pinnedAt ? 'started-over' : 'other-key';
}

async function checkPin(ctx: CliContext, client: Client, profile: Profile): Promise<void> {
  const served = (await client.text('/v1/audit/log-key')).trim();
  if (served === profile.logKey) return;
  const first = await ledgerStartOf(client);
  const where = `${ctx.home()}/profile.json`;
  if (comparePin(profile, served, first) === 'started-over') {
    throw new VerificationFailed(
      `this server's ledger is not the one this profile was pinned to (a new data directory?): it began ${first!.time} under log key ${served}, not the key pinned in ${where}; ` +
        'if you started over on purpose, run `covenant profile reset --yes` to pin it — otherwise treat this as tampering',
    );
  }
  throw new VerificationFailed(
    `the server's log key ${served} is not the one pinned in ${where} (${profile.logKey}): treat this as tampering, unless this profile was meant for another server or data directory (then \`covenant profile reset --yes\` re-pins it)`,
  );
}

/** Profiles pinned before the first entry was recorded learn it from a log that just verified. */
async function pinLedgerStart(ctx: CliContext, client: Client, profile: Profile): Promise<void> {
  const first = await ledgerStartOf(client);
  if (first !== undefined) await writeProfile(ctx.home(), { ...profile, ledgerStart: first.leafHash });
}

export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('The tamper-evident ledger: verify it, prove entries, query it');

  audit
    .command('verify')
    .description('Recompute every leaf and the tree; check every checkpoint signature and their consistency; with --data-dir or --database, also compare the state tables with a rebuild from the ledger')
    .option('--log-key <vkey>', "the log's note verifier key (default: the one pinned in COVENANT_HOME at init)")
    .option('--tenant <name>', 'the tenant whose log this is (default: the profile\'s, else default)')
    .option('--data-dir <dir>', 'verify this data directory\'s SQLite store directly (a stopped server\'s, or a copy), not a server')
    .option('--database <url>', 'verify this PostgreSQL database directly (postgres://…), not a server')
    .option('--json', 'print JSON')
    .action(async (options: { logKey?: string; tenant?: string; dataDir?: string; database?: string; json?: boolean }, command: Command) => {
      const profile = await ctx.profile();
      const tenant = options.tenant ?? profile?.tenant ?? 'default';
      if (options.dataDir !== undefined || options.database !== undefined) {
        return verifyStore(ctx, { tenant, vkey: options.logKey ?? profile?.logKey, dataDir: options.dataDir, database: options.database, json: options.json === true });
      }
      const client = await ctx.client(command);
      // Only the pin is questioned: a key given on the command line is the caller's own choice.
      const pinned = options.logKey === undefined ? profile : undefined;
      if (pinned?.logKey !== undefined) await checkPin(ctx, client, pinned);
      let vkey = options.logKey ?? profile?.logKey;
      if (vkey === undefined) {
        vkey = (await client.text('/v1/audit/log-key')).trim();
        ctx.out.error(`warning: no pinned log key; trusting the server's (${vkey})`);
      }
      const report: AuditReport = await auditLog(httpAuditSource(client), { tenant, vkey });
      if (options.json) ctx.out.json(report);
      else if (report.ok) ctx.out.line(`ok: ${report.entries} entries, ${report.checkpoints} checkpoints verified; tree size ${report.treeSize}, root ${report.root}`);
      if (!report.ok) throw new VerificationFailed(`ledger verification failed at index ${report.finding!.index ?? '-'}: ${report.finding!.message}`);
      if (pinned !== undefined && pinned.ledgerStart === undefined) await pinLedgerStart(ctx, client, pinned);
    });

  audit
    .command('proof')
    .description('Inclusion proof of entry N, with a signed checkpoint')
    .requiredOption('--index <n>', 'entry index', parseCount)
    .option('--tree-size <n>', 'tree size the proof is relative to (default: current)', parseCount)
    .option('--json', 'print JSON')
    .action(async (options: { index: number; treeSize?: number; json?: boolean }, command: Command) => {
      const proof = await (await ctx.client(command)).get<{ index: number; treeSize: number; leafHash: string; hashes: string[]; checkpoint: string }>(
        '/v1/audit/proof',
        { index: options.index, treeSize: options.treeSize },
      );
      if (options.json) return ctx.out.json(proof);
      ctx.out.line(`entry ${proof.index} in tree of size ${proof.treeSize}, leaf ${proof.leafHash}`);
      for (const hash of proof.hashes) ctx.out.line(`  ${hash}`);
      ctx.out.line();
      ctx.out.line(proof.checkpoint.trimEnd());
    });

  audit
    .command('consistency')
    .description('Consistency proof between two tree sizes')
    .requiredOption('--from <n>', 'older tree size', parseCount)
    .requiredOption('--to <n>', 'newer tree size', parseCount)
    .option('--json', 'print JSON')
    .action(async (options: { from: number; to: number; json?: boolean }, command: Command) => {
      const proof = await (await ctx.client(command)).get<{ from: number; to: number; hashes: string[] }>('/v1/audit/consistency', {
        from: options.from,
        to: options.to,
      });
      if (options.json) return ctx.out.json(proof);
      ctx.out.line(`consistency ${proof.from} → ${proof.to}`);
      for (const hash of proof.hashes) ctx.out.line(`  ${hash}`);
    });

  audit
    .command('checkpoint')
    .description('Print a signed checkpoint (C2SP signed note) of the current tree; --store also stores one')
    .option('--store', 'sign and store a checkpoint now (signed request)')
    .action(async (options: { store?: boolean }, command: Command) => {
      const client = await ctx.client(command);
      if (options.store) {
        const stored = await client.post<{ note: string }>('/v1/audit/checkpoints');
        return ctx.out.line(stored.note.trimEnd());
      }
      ctx.out.line((await client.text('/v1/audit/checkpoint')).trimEnd());
    });

  audit
    .command('log')
    .description('Query ledger entries')
    .option('--type <type>', 'entry type, e.g. policy.version-created')
    .option('--actor <actor>', 'e.g. member:admin')
    .option('--workload <name>', 'entries about one workload')
    .option('--since <time>', `entries from this time on: ${RELATIVE_FORMS.past}`, timeArgument('past'))
    .option('--after <n>', 'entries after this index (paging)', parseCount)
    .option('--limit <n>', 'at most this many (1-1000)', parseCount, 100)
    .option('--json', 'print JSON')
    .action(async (options: { type?: string; actor?: string; workload?: string; since?: Date; after?: number; limit: number; json?: boolean }, command: Command) => {
      const { json, type, actor, workload, since, after, limit } = options;
      const query = { type, actor, workload, since: since?.toISOString(), after, limit };
      const { entries } = await (await ctx.client(command)).get<{ entries: { seq: number; time: string; type: string; actor: string; workload?: string; payload: unknown }[] }>(
        '/v1/audit/entries',
        query,
      );
      if (json) return ctx.out.json(entries);
      ctx.out.table(entries, ['seq', 'time', 'type', 'actor', 'workload']);
    });

  audit
    .command('log-key')
    .description("Print the log's public key as a note verifier key (<name>+<hash>+<base64>)")
    .action(async (_options, command: Command) => {
      ctx.out.line((await (await ctx.client(command)).text('/v1/audit/log-key')).trim());
    });

  audit
    .command('report')
    .description('Every change of trust since a time: proposer, approvers, rule used, break-glass flags, automatic changes, proposals not executed')
    .requiredOption('--since <time>', `changes from this time on: ${RELATIVE_FORMS.past}`, timeArgument('past'))
    .addOption(new Option('--format <format>', 'output').choices(['json', 'markdown']).default('markdown'))
    .action(async (options: { since: Date; format: 'json' | 'markdown' }, command: Command) => {
      const client = await ctx.client(command);
      if (options.format === 'markdown') return ctx.out.line((await client.text(`/v1/audit/report?since=${encodeURIComponent(options.since.toISOString())}&format=markdown`)).trimEnd());
      ctx.out.json(await client.get('/v1/audit/report', { since: options.since.toISOString() }));
    });

  audit
    .command('who-approved')
    .description('Who proposed and approved the change that created a policy version, under which rule')
    .requiredOption('--policy <version>', 'a policy version id (or a prefix of at least 8 hex digits)')
    .option('--json', 'print JSON')
    .action(async (options: { policy: string; json?: boolean }, command: Command) => {
      const who = await (await ctx.client(command)).get<{
        policy: string;
        workload: string;
        number: number;
        seq: number;
        time: string;
        actor: string;
        authorization: { seq: number; command: string; proposer: string; approvers: string[]; proposal: string | null; rule: { threshold: number; role: string } } | null;
      }>('/v1/audit/who-approved', { policy: options.policy });
      if (options.json) return ctx.out.json(who);
      const rows: [string, string][] = [
        ['policy', `${who.policy} (version ${who.number} of ${who.workload})`],
        ['entry', `${who.seq} at ${who.time}`],
      ];
      if (who.authorization === null) rows.push(['made by', `${who.actor} (automatic, under rules approved earlier)`]);
      else {
        const a = who.authorization;
        rows.push(['command', a.command], ['proposed by', a.proposer], ['approved by', a.approvers.join(', ')], ['rule', `${a.rule.threshold} of ${a.rule.role}`], ['proposal', a.proposal ?? '(one signature sufficed)']);
      }
      ctx.out.line(formatFields(rows));
    });
}
