import type { Command } from 'commander';
import { Client } from './client.js';
import { DEFAULT_SERVER, homeDir, readMemberKey, readProfile, type Profile } from './home.js';
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
      const server = options.server ?? env.COVENANT_SERVER ?? current?.server ?? DEFAULT_SERVER;
      const key = await readMemberKey(home());
      return new Client(server, key && current ? { member: current.member, key } : undefined);
    },
  };
}

/** Collects a repeatable option into an array. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
