/**
 * The shell blocks of a Markdown document, as the docs test runs them (see
 * shell-blocks.test.ts for the convention). Pure: text in, steps out.
 */

export interface Block {
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string (`sh`, `json`, …), empty when none. */
  readonly lang: string;
  /** The block's lines, with the fence's indentation removed. */
  readonly lines: readonly string[];
  /** Set when an HTML comment `<!-- docs-test: skip — reason -->` precedes the fence; '' when it gives no reason. */
  readonly skip?: string;
  /** Set when `<!-- docs-test: file NAME -->` precedes the fence: the block is that file's text, written before the commands that follow. */
  readonly file?: string;
}

export interface Step {
  /** 1-based document line of the command's first line. */
  readonly line: number;
  readonly command: string;
  /** Sample output shown after a `$ ` command; empty for a plain block's commands. */
  readonly expected: readonly string[];
}

const FENCE = /^( *)```\s*([\w+-]*)\s*$/;
const SKIP = /^\s*<!--\s*docs-test:\s*skip\b\s*[—:-]*\s*(.*?)\s*-->\s*$/;
const FILE = /^\s*<!--\s*docs-test:\s*file\s+([\w.-]+)\s*-->\s*$/;

export function extractBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) {
      if (lines[i]!.trim() !== '') previous = lines[i]!;
      continue;
    }
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) {
      body.push(lines[j]!.slice(Math.min(indent, lines[j]!.length - lines[j]!.trimStart().length)));
      j++;
    }
    const skip = SKIP.exec(previous);
    const file = FILE.exec(previous);
    blocks.push({ line: i + 1, lang: open[2]!, lines: body, ...(skip ? { skip: skip[1]! } : {}), ...(file ? { file: file[1]! } : {}) });
    previous = '';
    i = j;
  }
  return blocks;
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);
/** Words that begin a command line in an unlabelled block. */
const COMMANDS = /^(covenant|npx|npm|curl|openssl|node|cp|mkdir|sqlite3|pg_dump|pg_restore|createdb|echo|cat|export)\s/;
/** A usage synopsis: `<placeholder>` or `[--option]`; shown, never run. */
const SYNOPSIS = /<[A-Za-z][^<>]*>|\[--|\[<|\.\.\.$/;

/** A transcript has `$ ` prompts; any other unlabelled block runs when every line is a command and none is a synopsis. */
const CONTINUES = /^\s*<!--\s*docs-test:\s*continues\s+([\w./-]+\.md)\s*-->\s*$/m;

/** The document whose commands run first, when this one says `<!-- docs-test: continues other.md -->`. */
export function continues(markdown: string): string | undefined {
  return CONTINUES.exec(markdown)?.[1];
}

export function isShellBlock(block: Block): boolean {
  if (block.file !== undefined) return false;
  if (SHELL_LANGS.has(block.lang)) return true;
  if (block.lang !== '') return false;
  if (block.lines.some((l) => l.startsWith('$ '))) return true;
  const commands = joinContinuations(block.lines.map((text, i) => ({ text, i }))).filter((c) => c.text.trim() !== '');
  return commands.length > 0 && commands.every((c) => COMMANDS.test(c.text) && !SYNOPSIS.test(c.text));
}

/** Lines ending in `\` carry on to the next one. */
function joinContinuations(lines: readonly { text: string; i: number }[]): { text: string; i: number }[] {
  const out: { text: string; i: number }[] = [];
  let open: { text: string; i: number } | undefined;
  for (const line of lines) {
    if (open) {
      open.text += `\n${line.text}`;
    } else {
      open = { ...line };
      out.push(open);
    }
    if (!line.text.endsWith('\\')) open = undefined;
  }
  return out;
}

/** The commands of a shell block in order, each with the output a transcript shows for it. */
export function steps(block: Block): Step[] {
  const transcript = block.lines.some((l) => l.startsWith('$ '));
  const result: { line: number; command: string; expected: string[] }[] = [];
  if (!transcript) {
    const commands = joinContinuations(block.lines.map((text, i) => ({ text, i })));
    for (const c of commands) if (c.text.trim() !== '') result.push({ line: block.line + 1 + c.i, command: c.text, expected: [] });
    return result;
  }
  for (let i = 0; i < block.lines.length; i++) {
    const text = block.lines[i]!;
    if (text.startsWith('$ ')) {
      const start = i;
      let command = text.slice(2);
      while (command.endsWith('\\') && i + 1 < block.lines.length) command += `\n${block.lines[++i]!}`;
      result.push({ line: block.line + 1 + start, command, expected: [] });
    } else if (result.length > 0) {
      result[result.length - 1]!.expected.push(text);
    }
  }
  // Trailing blank lines are layout, not output.
  for (const step of result) while (step.expected.length > 0 && step.expected.at(-1)!.trim() === '') step.expected.pop();
  return result;
}

/** A refusal line (`covenant: …`) or a usage error shown after a command means it exits non-zero. */
export function expectsFailure(expected: readonly string[]): boolean {
  return expected.some((l) => /^(covenant: |error: )/.test(l));
}

/**
 * One line reduced to what a run reproduces: ISO times, hex of 8 or more digits,
 * base64/base64url tokens of 16 or more characters and numbers become placeholders,
 * and runs of spaces (table padding) become one.
 */
export function normalise(line: string): string {
  return line
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)/g, '<time>')
    .replace(/[A-Za-z0-9+/_-]{16,}={0,2}/g, (token) => (/\d/.test(token) || (/[a-z]/.test(token) && /[A-Z]/.test(token)) ? '<id>' : token))
    .replace(/\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/g, '<id>')
    .replace(/\d+/g, '#')
    .replace(/\s+/g, ' ')
    .trim();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A sample line as a pattern: `…` stands for anything, and a token it cuts short
 * (`sha256:5b0c…`, `2d711642b726b044…`) for any token.
 */
function pattern(expected: string): RegExp {
  const parts = normalise(expected.replace(/[A-Za-z0-9+/=_-]*…/g, '…')).split('…').map(escapeRegExp);
  return new RegExp(`^${parts.join('.*')}$`);
}

/**
 * The first sample line that does not appear, in order, among the actual output's lines;
 * undefined when all do. Lines that are only `…` (elisions) and blank lines are skipped.
 */
export function firstMissing(expected: readonly string[], actual: string): string | undefined {
  const lines = actual.split('\n').map(normalise);
  let at = 0;
  for (const line of expected) {
    if (line.trim() === '' || line.trim() === '…') continue;
    const re = pattern(line);
    const found = lines.findIndex((l, i) => i >= at && re.test(l));
    if (found < 0) return line;
    at = found + 1;
  }
  return undefined;
}

/** The docs' PostgreSQL host. */
export const DOC_DB_HOST = 'db.internal';

/**
 * A command that names the docs' database host, pointed at `host`, with `suffix` after
 * each database name it gives: a URL's database, `-d NAME`, and the last word of
 * createdb, dropdb and pg_dump. Other commands come back as they are.
 */
export function mapDatabase(command: string, host: string, suffix: string): string {
  if (!command.includes(DOC_DB_HOST)) return command;
  return command
    .replace(/(db\.internal(?::\d+)?\/)(\w+)/g, (_, prefix: string, name: string) => `${prefix}${name}${suffix}`)
    .replace(/(\s-d\s+)(\w+)/g, (_, flag: string, name: string) => `${flag}${name}${suffix}`)
    .replace(/^((?:createdb|dropdb|pg_dump)\s.*\s)(\w+)\s*$/gm, (_, head: string, name: string) => `${head}${name}${suffix}`)
    .split(DOC_DB_HOST)
    .join(host);
}
