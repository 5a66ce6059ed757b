import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadPrivateKey, type MemberPrivateKey } from '../ceremony/member-key.js';
import { CovenantError } from '../core/errors.js';

/**
 * The CLI's identity lives in COVENANT_HOME (default ~/.config/covenant): the member
 * key (`member.pem`, mode 0600) and `profile.json` (member name, server URL, the
 * pinned log key). Several homes give several isolated identities side by side.
 */
export interface Profile {
  readonly member: string;
  readonly server?: string;
  readonly tenant?: string;
  /** The log's note verifier key, pinned at init: `audit verify` trusts nothing else. */
  readonly logKey?: string;
  /**
   * When `logKey` was pinned. A log whose first entry is younger than the pin, under
   * another key, is a new data directory rather than this one altered. Absent in
   * profiles written before it was recorded.
   */
  readonly pinnedAt?: string;
  /** Leaf hash (hex) of the pinned log's first entry (`tenant.created`), once `audit verify` has seen it. */
  readonly ledgerStart?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:7800';

export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.COVENANT_HOME && env.COVENANT_HOME.length > 0 ? env.COVENANT_HOME : join(homedir(), '.config', 'covenant');
}

const profilePath = (home: string): string => join(home, 'profile.json');
export const memberKeyPath = (home: string): string => join(home, 'member.pem');

export async function readProfile(home: string): Promise<Profile | undefined> {
  try {
    return JSON.parse(await readFile(profilePath(home), 'utf8')) as Profile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CovenantError('bad-request', `cannot read ${profilePath(home)}: ${(error as Error).message}`);
  }
}

export async function writeProfile(home: string, profile: Profile): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(profilePath(home), `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Why this home cannot sign, and what to do: a key without its profile needs the
 * profile re-created for that key (`covenant profile reset`), not a new key.
 */
export function unsignedReason(home: string, hasKey: boolean): string {
  if (!hasKey) return `no member key in ${home}: run \`covenant init\` or set COVENANT_HOME`;
  return `${memberKeyPath(home)} exists but ${profilePath(home)} does not: re-create the profile for this key with \`covenant profile reset --yes\` (it keeps the key and finds its member name on the server), or point COVENANT_HOME at the home you meant`;
}

export async function readMemberKey(home: string): Promise<MemberPrivateKey | undefined> {
  try {
    return loadPrivateKey(await readFile(memberKeyPath(home), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function writeMemberKey(home: string, pem: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  try {
    await writeFile(memberKeyPath(home), pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CovenantError('conflict', `${memberKeyPath(home)} already exists; use another COVENANT_HOME for another identity`);
    }
    throw error;
  }
}
