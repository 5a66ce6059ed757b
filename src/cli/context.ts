import { InvalidArgumentError, type Command } from 'commander';
import { parseTimeExpression, type TimeDirection } from '../core/duration.js';
import { CovenantError } from '../core/errors.js';
import { Client } from './client.js';
import { DEFAULT_SERVER, homeDir, readMemberKey, readProfile, unsignedReason, type Profile } from './home.js';
import type { Output } from './output.js';

export interface CliContext {
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  /** The client for this invocation: --server, else COVENANT_SERVER, else the profile's. */
  client(command: Command): Promise<Client>;
  profile(): Promise<Profile | undefined>;
  home(): string;
}

export function createContext(out: Output, env: NodeJS.ProcessEnv): CliContext {
  const home = (): string => homeDir(env);
  const profile = (): Promise<Profile | undefined> => readProfile(home());
  return {
    out,
    env,
    home,
    profile,
    async client(command) {
      const options = command.optsWithGlobals<{ server?: string }>();
      const current = await profile();
      const [server, source] =
        options.server !== undefined ? [options.server, '--server'] : env.COVENANT_SERVER ? [env.COVENANT_SERVER, 'COVENANT_SERVER'] : current?.server ? [current.server, `the profile in ${home()}`] : [DEFAULT_SERVER, 'the default'];
      serverUrlFrom(server, source);
      const key = await readMemberKey(home());
      return key && current ? new Client(server, { member: current.member, key }) : new Client(server, undefined, unsignedReason(home(), key !== undefined));
    },
  };
}

/** The control plane URL, or a usage error naming where the bad one came from. */
function serverUrlFrom(value: string, source: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError(`${source}: ${JSON.stringify(value)} is not an http(s) URL, e.g. http://127.0.0.1:7800`);
  }
  return value;
}

/** Commander's parser for --server: a bad URL is a usage error before anything runs. */
export const parseServerUrl = (value: string): string => {
  try {
    return serverUrlFrom(value, '--server');
  } catch (error) {
    // Commander prefixes the option already.
    throw new InvalidArgumentError((error as Error).message.replace(/^--server: /, ''));
  }
};

/** Collects a repeatable option into an array. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The parser of every time option and argument: `now`, `+2h`, `-2h`/`2h ago` or an
 * ISO-8601 date-time with zone, read against the clock when the command line is parsed.
 * A refusal is a usage error (exit 2).
 */
export function timeArgument(direction: TimeDirection): (value: string) => Date {
  return (value) => {
    try {
      return parseTimeExpression(value, 'time', new Date(), direction);
    } catch (error) {
      if (!(error instanceof CovenantError)) throw error;
      throw new InvalidArgumentError(error.message.replace(/^time: /, ''));
    }
  };
}
