import { Argument, type Command } from 'commander';
import { ANCHOR_CLASSES, type AnchorClass } from '../../anchors/classes.js';
import type { TrustAnchorAdded, TrustAnchorRemoved } from '../../anchors/events.js';
import type { StoredTrustAnchor } from '../../anchors/queries.js';
import type { CliContext } from '../context.js';
import { readInput } from './evidence.js';

export function registerAnchorCommands(program: Command, ctx: CliContext): void {
  const anchor = program.command('anchor').description("Trust anchors members add to an evidence class, beside its shipped roots (a governed change of class 'trust-anchors')");
  const classArgument = () => new Argument('<class>', 'evidence class').choices(ANCHOR_CLASSES);

  anchor
    .command('add')
    .description('Trust the certificates of <file> (PEM or DER) as roots for <class>')
    .addArgument(classArgument())
    .argument('<file>', 'certificate file: a root, or a root with its intermediates')
    .option('--json', 'print JSON')
    .action(async (tee: AnchorClass, file: string, options: { json?: boolean }, command: Command) => {
      const bytes = await readInput(file, 'certificate file');
      const added = await (await ctx.client(command)).post<TrustAnchorAdded>('/v1/anchors', { class: tee, certificate: Buffer.from(bytes).toString('base64') });
      if (options.json) return ctx.out.json(added);
      ctx.out.line(`${tee}: trusting ${added.subject}; valid ${added.notBefore} to ${added.notAfter}; ${added.digest}`);
    });

  anchor
    .command('remove')
    .description('Stop trusting an anchor members added (by the digest `anchor list` shows)')
    .addArgument(classArgument())
    .argument('<digest>', 'sha256:<hex> of the anchor')
    .option('--json', 'print JSON')
    .action(async (tee: AnchorClass, digest: string, options: { json?: boolean }, command: Command) => {
      const removed = await (await ctx.client(command)).delete<TrustAnchorRemoved>(`/v1/anchors/${tee}/${encodeURIComponent(digest)}`);
      if (options.json) return ctx.out.json(removed);
      ctx.out.line(`${tee}: no longer trusting ${removed.digest}`);
    });

  anchor
    .command('list')
    .description('Trust anchors members added, by class, with whether each is valid now (shipped roots are not listed)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { anchors } = await (await ctx.client(command)).get<{ anchors: (StoredTrustAnchor & { valid: boolean })[] }>('/v1/anchors');
      if (options.json) return ctx.out.json(anchors);
      ctx.out.table(
        anchors.map((item) => ({ ...item, valid: item.valid ? 'yes' : 'no' })),
        ['tee', 'digest', 'valid', 'notAfter', 'subject', 'addedBy'],
      );
    });
}
