/**
 * `covenant serve --config <file>`: a JSON file whose keys are serve's long option
 * names (`"data-dir"`, `"attest-rate"`, …), so that what `--help` says is what the file
 * takes. Each value goes through the option's own parser, so a file and a command line
 * are checked alike; an option given on the command line wins over the file.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { z } from 'zod';

const text = z.string();
const integer = z.number();
const list = z.array(z.string());

/** One key per option of `serve` (test/cli/serve-config.test.ts keeps them in step). */
const SHAPE: Readonly<Record<string, typeof text | typeof integer | typeof list>> = {
  'data-dir': text,
  store: text,
  listen: text,
  tenant: text,
  'checkpoint-interval': integer,
  'body-limit': integer,
  'signature-window': integer,
  'log-level': text,
  'sim-dir': text,
  'tpm-anchor': list,
  anchor: list,
  'evidence-retention': integer,
  'inventory-retention': integer,
  'attest-rate': integer,
  'attest-burst': integer,
  'attest-in-flight': integer,
  'token-lifetime': integer,
  'rollout-interval': integer,
  authority: list,
};

/** The file: any of the keys, none other. */
export const SERVE_CONFIG = z.strictObject(SHAPE).partial();

export type ServeConfig = z.infer<typeof SERVE_CONFIG>;

export const SERVE_CONFIG_KEYS: readonly string[] = Object.keys(SHAPE);

/** `dataDir` and `--data-dir` are the mistakes a reader of `--help` or of JavaScript makes. */
function suggestion(key: string): string {
  const kebab = key.replace(/^-+/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return kebab !== key && SERVE_CONFIG_KEYS.includes(kebab) ? ` (did you mean "${kebab}"?)` : '';
}

/** One line for the first thing wrong, naming the file and the key. */
function describeIssue(file: string, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    return `${file}: unknown key "${key}"${suggestion(key)}; the keys are serve's long option names: ${SERVE_CONFIG_KEYS.join(', ')}`;
  }
  const [key] = issue.path;
  if (key === undefined) return `${file}: must hold a JSON object of serve's options, e.g. {"data-dir": "/var/lib/covenant"}`;
  const type = SHAPE[String(key)];
  const expected = type === list ? 'a list of strings' : type === integer ? 'a number' : 'a string';
  return `${file}: "${String(key)}" must be ${expected}`;
}

/** Reads and checks the file; every problem with it is a usage error (exit 2), as a bad flag is. */
export async function readServeConfig(file: string): Promise<ServeConfig> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new InvalidArgumentError(`cannot read --config ${file}: ${why}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (error) {
    throw new InvalidArgumentError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = SERVE_CONFIG.safeParse(json);
  if (!parsed.success) throw new InvalidArgumentError(describeIssue(file, parsed.error.issues[0]!));
  return parsed.data;
}

/**
 * Sets each option the file names on `command`, through the option's parser, unless
 * `given(attribute)` says the command line (or its environment variable) already set it.
 * A list replaces the option's default; a repeatable option given on the command line
 * replaces the file's list rather than adding to it.
 */
export function applyServeConfig(command: Command, config: ServeConfig, file: string, given: (attribute: string) => boolean): void {
  for (const [key, value] of Object.entries(config)) {
    const option = command.options.find((o) => o.long === `--${key}`);
    // The schema and the options are kept in step by a test; a miss is a bug, not a user error.
    if (option === undefined) throw new Error(`serve has no option --${key}`);
    const attribute = option.attributeName();
    if (given(attribute)) continue;
    const parse = (raw: string, previous: unknown): unknown => {
      try {
        return option.parseArg === undefined ? raw : option.parseArg(raw, previous);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        throw new InvalidArgumentError(`${file}: "${key}": ${error.message}`);
      }
    };
    const parsed = Array.isArray(value) ? value.reduce<unknown>((previous, item) => parse(item, previous), []) : parse(String(value), undefined);
    command.setOptionValueWithSource(attribute, parsed, 'config');
  }
}
