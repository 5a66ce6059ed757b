import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * The plugins' cross-checks against Debian's `openssl` CLI, an independent X.509, CRL and
 * ECDSA implementation: running it, the files it reads, and the two commands they all use.
 * Missing openssl is a failure, not a skip: the cross-check is the point.
 */

export interface OpensslResult {
  readonly status: number | null;
  /** stdout and stderr together: openssl prints its verdicts on either. */
  readonly out: string;
}

export function openssl(args: string[]): OpensslResult {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`openssl is not runnable (${r.error.message}): install it, e.g. \`apt-get install openssl\``);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A DER certificate as the PEM text openssl reads. */
export const certificatePem = (der: Uint8Array): string => new X509Certificate(der).toString();

/** Seconds since the epoch, as `-attime` takes them. */
export const unixTime = (d: Date): string => String(Math.floor(d.getTime() / 1000));

export interface Scratch {
  /** Where `name` is (or will be) in the directory. */
  path(name: string): string;
  /** Writes `contents` to `name` in the directory and returns its path. */
  write(name: string, contents: string | Uint8Array): string;
}

/**
 * A temporary directory for the files openssl reads, made before the suite's tests and
 * removed after them. Call it at the top level of a test file (it registers the hooks).
 */
export function scratchDirectory(prefix: string): Scratch {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const path = (name: string): string => {
    if (dir === undefined) throw new Error('scratch directory used before its beforeAll hook ran');
    return join(dir, name);
  };
  return {
    path,
    write(name, contents) {
      const file = path(name);
      writeFileSync(file, contents);
      return file;
    },
  };
}

export interface ChainFiles {
  /** The trust anchor (PEM), as -CAfile. */
  readonly anchor: string;
  /** Intermediates (PEM), as -untrusted. */
  readonly untrusted?: string;
  readonly leaf: string;
  /** When given, CRLs (PEM) that must cover every certificate of the chain: -crl_check_all. */
  readonly crls?: readonly string[];
  /** Accept a chain that ends at an anchor which is not self-signed. */
  readonly partialChain?: boolean;
}

/** `openssl verify` of a chain at a given time. */
export function opensslVerify(chain: ChainFiles, at: Date): OpensslResult {
  return openssl([
    'verify',
    ...(chain.partialChain ? ['-partial_chain'] : []),
    ...(chain.crls ? ['-crl_check_all', ...chain.crls.flatMap((crl) => ['-CRLfile', crl])] : []),
    '-attime',
    unixTime(at),
    '-CAfile',
    chain.anchor,
    ...(chain.untrusted ? ['-untrusted', chain.untrusted] : []),
    chain.leaf,
  ]);
}

/** `openssl dgst -<digest> -verify` of a DER ECDSA signature over a file. */
export function opensslDigestVerify(digest: 'sha256' | 'sha384', files: { readonly key: string; readonly signature: string; readonly data: string }): OpensslResult {
  return openssl(['dgst', `-${digest}`, '-verify', files.key, '-signature', files.signature, files.data]);
}

/** DER INTEGER of a big-endian unsigned scalar. */
function derInteger(be: Uint8Array): Buffer {
  let i = 0;
  while (i < be.length - 1 && be[i] === 0) i++;
  let body = Buffer.from(be.subarray(i));
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

/** The DER ECDSA-Sig-Value openssl wants, of the big-endian scalars r and s. */
export function derSignature(r: Uint8Array, s: Uint8Array): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  const header = body.length < 0x80 ? [0x30, body.length] : [0x30, 0x81, body.length];
  return Buffer.concat([Buffer.from(header), body]);
}

/** derSignature of an IEEE P1363 signature, r ‖ s, as COSE, DCAP and SPDM carry it. */
export function derSignatureOfP1363(rs: Uint8Array): Buffer {
  return derSignature(rs.subarray(0, rs.length / 2), rs.subarray(rs.length / 2));
}
