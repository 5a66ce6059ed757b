import type { Command } from 'commander';
import type { CollateralImported } from '../../collateral/events.js';
import type { StoredCollateral } from '../../collateral/queries.js';
import { PendingProposal } from '../client.js';
import type { CliContext } from '../context.js';
import { readInput } from './evidence.js';

export function registerCollateralCommands(program: Command, ctx: CliContext): void {
  const collateral = program.command('collateral').description('Collateral kept by the verifier so that verification runs offline');

  collateral
    .command('import <file...>')
    .description('Import collateral files, each recognised by content: PEM/DER certificates, a CRL, Intel PCS TCB info or QE identity (alone or as a bundle)')
    .option('--json', 'print JSON')
    .action(async (files: string[], options: { json?: boolean }, command: Command) => {
      const client = await ctx.client(command);
      const outcomes: (CollateralImported | { file: string; pending: PendingProposal['proposal'] })[] = [];
      // One import per file, each reported as it lands (or as the proposal it became): a
      // refused file stops the rest, and what was imported stays.
      for (const file of files) {
        const bytes = await readInput(file, 'collateral file');
        try {
          const item = await client.post<CollateralImported>('/v1/collateral', { collateral: Buffer.from(bytes).toString('base64') });
          outcomes.push(item);
          if (!options.json) ctx.out.line(`${file}: ${item.kind}, ${item.subject}; valid ${item.notBefore} to ${item.notAfter}; ${item.digest}`);
        } catch (error) {
          if (!(error instanceof PendingProposal)) throw error;
          outcomes.push({ file, pending: error.proposal });
          if (!options.json) for (const line of error.lines()) ctx.out.line(`${file}: ${line}`);
        }
      }
      if (options.json) ctx.out.json(outcomes);
    });

  collateral
    .command('list')
    .description('Imported collateral, newest first, with whether it is valid now')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { collateral: items } = await (await ctx.client(command)).get<{ collateral: (StoredCollateral & { valid: boolean })[] }>('/v1/collateral');
      if (options.json) return ctx.out.json(items);
      ctx.out.table(
        items.map((item) => ({ ...item, digest: item.digest.slice(0, 19), valid: item.valid ? 'yes' : 'no' })),
        ['digest', 'kind', 'classes', 'valid', 'notAfter', 'subject'],
      );
    });
}
