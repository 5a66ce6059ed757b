import { generateKeyPairSync, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CovenantError } from '../core/errors.js';
import type { MemberAdded } from '../ceremony/events.js';
import type { LogKey } from '../ledger/checkpointer.js';
import { formatVerifierKey } from '../ledger/note.js';
import { newSessionKey, SESSION_KEY_BYTES } from '../verifier/session.js';
import type { KeyRotation } from '../verifier/token-keys.js';

/**
 * A tenant's private keys live as files in the data directory (mode 0600), never in
 * the store or the ledger: `keys/<tenant>/log.pem` signs checkpoints,
 * `keys/<tenant>/token.pem` signs attestation results until the first online rotation
 * (src/app/token-key-rotation.ts), `keys/<tenant>/session.key`
 * (32 random bytes) MACs attestation sessions, `keys/<tenant>/admins.json` names the
 * first admins the server enrols when it creates the tenant, and the key broker's
 * `kek.key` and `sealing.key` (below). Replicas sharing a store must share these files.
 */
export interface TenantKeys {
  readonly log: LogKey;
  /** Signs attestation results now. */
  readonly token: KeyObject;
  /**
   * Former token keys (`keys/<tenant>/retired/token-<unix seconds>.pem`), rotated offline
   * by versions before online rotation (`POST /v1/token-keys/rotations`, kept in the
   * store); still published while their tokens live.
   */
  readonly retiredTokens: readonly KeyRotation[];
  readonly session: Uint8Array;
}

export const defaultOrigin = (tenant: string): string => `covenant/${tenant}`;

const tenantDir = (dataDir: string, tenant: string): string => join(dataDir, 'keys', tenant);

async function exists(path: string): Promise<boolean> {
  try {
    await readFile(path);
    return true;
  } catch {
    return false;
  }
}

export async function tenantKeysExist(dataDir: string, tenant: string): Promise<boolean> {
  return exists(join(tenantDir(dataDir, tenant), 'log.pem'));
}

/** Creates the tenant's key files; refuses to overwrite existing ones. */
export async function createTenantKeys(dataDir: string, tenant: string, origin: string, admins: readonly MemberAdded[]): Promise<TenantKeys> {
  const dir = tenantDir(dataDir, tenant);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const log = generateKeyPairSync('ed25519');
  const token = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const write = async (name: string, text: string): Promise<void> => {
    try {
      await writeFile(join(dir, name), text, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CovenantError('conflict', `${join(dir, name)} already exists: tenant ${tenant} is already initialised`);
      }
      throw error;
    }
  };
  await write('log.pem', log.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await write('token.pem', token.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  await write('origin', `${origin}\n`);
  await write('admins.json', `${JSON.stringify(admins, null, 2)}\n`);
  // Made here, not at the first start, so that a copy of keys/ taken right after init
  // holds every key a replica or a restore needs.
  for (const name of Object.values(KEY_BROKER_FILES)) await write(name, randomBytes(KEY_BROKER_KEY_BYTES).toString('base64'));
  return loadTenantKeys(dataDir, tenant);
}

export async function loadTenantKeys(dataDir: string, tenant: string): Promise<TenantKeys> {
  const dir = tenantDir(dataDir, tenant);
  try {
    const origin = (await readFile(join(dir, 'origin'), 'utf8')).trim();
    const logPrivate = createPrivateKey(await readFile(join(dir, 'log.pem'), 'utf8'));
    const token = createPrivateKey(await readFile(join(dir, 'token.pem'), 'utf8'));
    const vkey = formatVerifierKey(origin, createPublicKey(logPrivate));
    return { log: { origin, privateKey: logPrivate, vkey }, token, retiredTokens: await retiredTokens(dir), session: await sessionKey(dir) };
  } catch (error) {
    if (error instanceof CovenantError) throw error;
    throw new CovenantError('bad-request', `cannot read the keys of tenant ${tenant} in ${dir}: ${(error as Error).message}`);
  }
}

const RETIRED_TOKEN = /^token-(\d{1,12})\.pem$/;

async function retiredTokens(dir: string): Promise<KeyRotation[]> {
  let names: string[];
  try {
    names = await readdir(join(dir, 'retired'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rotations: KeyRotation[] = [];
  for (const name of names.sort()) {
    const match = RETIRED_TOKEN.exec(name);
    if (match === null) continue;
    rotations.push({ key: createPrivateKey(await readFile(join(dir, 'retired', name), 'utf8')), retiredAt: new Date(Number(match[1]) * 1000) });
  }
  return rotations;
}

/** Data directories made before attestation sessions existed get their key on first start. */
async function sessionKey(dir: string): Promise<Uint8Array> {
  const path = join(dir, 'session.key');
  try {
    await writeFile(path, Buffer.from(newSessionKey()).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = new Uint8Array(Buffer.from((await readFile(path, 'utf8')).trim(), 'base64'));
  if (key.length !== SESSION_KEY_BYTES) throw new CovenantError('bad-request', `${path} must hold ${SESSION_KEY_BYTES} bytes in base64`);
  return key;
}

export async function loadBootstrapAdmins(dataDir: string, tenant: string): Promise<MemberAdded[]> {
  const text = await readFile(join(tenantDir(dataDir, tenant), 'admins.json'), 'utf8');
  return JSON.parse(text) as MemberAdded[];
}

/**
 * The key broker's two secrets, 32 random bytes each in base64 (mode 0600), created by
 * init: `keys/<tenant>/kek.key`, the key-encryption key of the file KMS
 * (src/keys/kms.ts), and `keys/<tenant>/sealing.key`, the master secret sealing-slot keys
 * derive from (src/keys/slots.ts). Replicas must share them; losing `kek.key` loses every
 * stored secret, and replacing `sealing.key` changes every sealing key. Their ids are
 * recorded in the ledger (src/app/key-ids.ts), so a server holding other files refuses
 * to start.
 */
export interface KeyBrokerKeys {
  readonly kek: Uint8Array;
  readonly sealing: Uint8Array;
}

/** Public ids of the key broker's keys: the KMS key id and `sealingMasterId`. */
export interface KeyBrokerKeyIds {
  readonly kek: string;
  readonly sealing: string;
}

export const KEY_BROKER_FILES: Readonly<Record<keyof KeyBrokerKeys, string>> = { kek: 'kek.key', sealing: 'sealing.key' };

export const KEY_BROKER_KEY_BYTES = 32;

/** The end of every refusal over key files: what the operator must do. */
export const copyKeysHint = (dataDir: string, tenant: string): string =>
  `copy keys/${tenant}/ from the data directory the tenant was initialised in (or its backup) to ${tenantDir(dataDir, tenant)}`;

async function keyFile(path: string, create: boolean): Promise<Uint8Array | undefined> {
  if (create) {
    try {
      await writeFile(path, randomBytes(KEY_BROKER_KEY_BYTES).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = new Uint8Array(Buffer.from(text.trim(), 'base64'));
  if (key.length !== KEY_BROKER_KEY_BYTES) throw new CovenantError('bad-request', `${path} must hold ${KEY_BROKER_KEY_BYTES} bytes in base64`);
  return key;
}

/**
 * Reads the key broker's keys. `recorded` is what the tenant's ledger says they are:
 * once recorded, a missing file is refused, never replaced by a new key (which would
 * lose every stored value or change every sealing key). Without a record (a new
 * tenant, or a data directory from before init made these files), a missing file is
 * created, as it was at the first start before.
 */
export async function loadKeyBrokerKeys(dataDir: string, tenant: string, recorded?: KeyBrokerKeyIds): Promise<KeyBrokerKeys> {
  const dir = tenantDir(dataDir, tenant);
  if (!(await tenantKeysExist(dataDir, tenant))) throw new CovenantError('not-found', `no keys for tenant ${tenant} in ${dir}: run \`covenant init\` first`);
  const load = async (which: keyof KeyBrokerKeys): Promise<Uint8Array> => {
    const path = join(dir, KEY_BROKER_FILES[which]);
    const key = await keyFile(path, recorded === undefined);
    if (key === undefined) {
      throw new CovenantError('conflict', `this server has no ${path}, tenant ${tenant}'s is ${recorded![which]}; ${copyKeysHint(dataDir, tenant)}`);
    }
    return key;
  };
  return { kek: await load('kek'), sealing: await load('sealing') };
}
