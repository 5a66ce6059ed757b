import { EvidenceError } from '../plugin.js';
import { advisoryIds, array, date, hex, integer, object, string, type JsonObject } from './json.js';

/**
 * Intel PCS TCB Info, version 3 (the `tcbInfo` object of `GET /sgx|tdx/certification/v4/tcb`):
 * the TCB levels Intel knows for one FMSPC, newest first, each with its status and the
 * advisories that apply. For TDX it also names the TDX module's signer and, per module
 * major version, the module's own TCB levels.
 */

export const TCB_INFO_VERSION = 3;
const MAX_LEVELS = 1_024;

export interface TcbLevel {
  /** SGX TCB component SVNs 1..16. */
  readonly sgxComponents: readonly number[];
  readonly pceSvn: number;
  /** TDX TCB component SVNs 1..16 (TDX TCB info only). */
  readonly tdxComponents?: readonly number[];
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

/** A level of an identity with one SVN: the QE, or a TDX module major version. */
export interface IsvTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

export interface TdxModule {
  readonly mrSigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
}

export interface TdxModuleIdentity extends TdxModule {
  /** `TDX_<major version, two hex digits>`, e.g. TDX_01. */
  readonly id: string;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

export interface TcbInfo {
  readonly id: 'SGX' | 'TDX';
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly fmspc: Uint8Array;
  readonly pceId: Uint8Array;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule?: TdxModule;
  readonly tdxModuleIdentities?: readonly TdxModuleIdentity[];
  readonly tcbLevels: readonly TcbLevel[];
}

function components(o: JsonObject, key: string, what: string): number[] {
  const list = array(o, key, what, 16);
  if (list.length !== 16) throw new EvidenceError('malformed', `${what}.${key} has ${list.length} components, not 16`);
  return list.map((c, i) => integer(object(c, `${what}.${key}[${i}]`), 'svn', `${what}.${key}[${i}]`, 255));
}

function tcbDate(o: JsonObject, what: string): string {
  return date(o, 'tcbDate', what).toISOString();
}

export function parseIsvLevel(value: unknown, what: string): IsvTcbLevel {
  const level = object(value, what);
  return {
    isvSvn: integer(object(level['tcb'], `${what}.tcb`), 'isvsvn', `${what}.tcb`, 0xffff),
    tcbDate: tcbDate(level, what),
    tcbStatus: string(level, 'tcbStatus', what),
    advisoryIds: advisoryIds(level, what),
  };
}

function parseLevel(value: unknown, what: string, tdx: boolean): TcbLevel {
  const level = object(value, what);
  const tcb = object(level['tcb'], `${what}.tcb`);
  return {
    sgxComponents: components(tcb, 'sgxtcbcomponents', `${what}.tcb`),
    pceSvn: integer(tcb, 'pcesvn', `${what}.tcb`, 0xffff),
    ...(tdx ? { tdxComponents: components(tcb, 'tdxtcbcomponents', `${what}.tcb`) } : {}),
    tcbDate: tcbDate(level, what),
    tcbStatus: string(level, 'tcbStatus', what),
    advisoryIds: advisoryIds(level, what),
  };
}

function parseModule(value: unknown, what: string): TdxModule {
  const m = object(value, what);
  return { mrSigner: hex(m, 'mrsigner', what, 48), attributes: hex(m, 'attributes', what, 8), attributesMask: hex(m, 'attributesMask', what, 8) };
}

function parseModuleIdentity(value: unknown, what: string): TdxModuleIdentity {
  const m = object(value, what);
  const id = string(m, 'id', what);
  if (id.length > 16) throw new EvidenceError('malformed', `${what}.id is not a TDX module identity id`);
  return {
    id,
    ...parseModule(m, what),
    tcbLevels: array(m, 'tcbLevels', what, MAX_LEVELS).map((l, i) => parseIsvLevel(l, `${what}.tcbLevels[${i}]`)),
  };
}

/** Reads a `tcbInfo` object; the caller has the exact bytes its signature covers. */
export function parseTcbInfo(value: unknown): TcbInfo {
  const what = 'TCB info';
  const info = object(value, what);
  const id = info['id'];
  if (id !== 'SGX' && id !== 'TDX') throw new EvidenceError('unsupported', `TCB info id ${JSON.stringify(id)?.slice(0, 40)} is neither SGX nor TDX`);
  const version = integer(info, 'version', what, 0xffff);
  if (version !== TCB_INFO_VERSION) throw new EvidenceError('unsupported', `TCB info version ${version} is not supported; only version ${TCB_INFO_VERSION}`);
  const tcbType = integer(info, 'tcbType', what, 0xffff);
  // Type 0 is the only one Intel defines: components compared one by one, as below.
  if (tcbType !== 0) throw new EvidenceError('unsupported', `TCB info tcbType ${tcbType} is not supported; only 0`);
  const tdx = id === 'TDX';
  const identities = info['tdxModuleIdentities'];
  return {
    id,
    version,
    issueDate: date(info, 'issueDate', what),
    nextUpdate: date(info, 'nextUpdate', what),
    fmspc: hex(info, 'fmspc', what, 6),
    pceId: hex(info, 'pceId', what, 2),
    tcbType,
    tcbEvaluationDataNumber: integer(info, 'tcbEvaluationDataNumber', what, 0xffffffff),
    ...(tdx ? { tdxModule: parseModule(info['tdxModule'], `${what}.tdxModule`) } : {}),
    ...(tdx && identities !== undefined
      ? { tdxModuleIdentities: array(info, 'tdxModuleIdentities', what, 256).map((m, i) => parseModuleIdentity(m, `${what}.tdxModuleIdentities[${i}]`)) }
      : {}),
    tcbLevels: array(info, 'tcbLevels', what, MAX_LEVELS).map((l, i) => parseLevel(l, `${what}.tcbLevels[${i}]`, tdx)),
  };
}
