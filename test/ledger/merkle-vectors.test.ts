import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leafHash, merkleTreeHash, verifyConsistency, verifyInclusion } from '../../src/ledger/merkle.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/merkle/', import.meta.url));

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return jsonFiles(path);
      return name.endsWith('.json') ? [path] : [];
    });
}

const INT_FIELDS = /("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(\d+)/g;

/** Upstream integers are u64; quoting them first keeps JSON.parse from rounding. */
function load(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8').replace(INT_FIELDS, '$1"$2"')) as Record<string, unknown>;
}

/** An index the verifier cannot represent exactly becomes NaN, which it must reject. */
function int(value: unknown): number {
  const big = BigInt(value as string);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(big);
}

function bytes(value: unknown): Buffer {
  return value === null ? Buffer.alloc(0) : Buffer.from(value as string, 'base64');
}

function list(value: unknown): Buffer[] {
  return value === null ? [] : (value as string[]).map((v) => Buffer.from(v, 'base64'));
}

describe('transparency-dev/merkle test vectors', () => {
  const inclusion = jsonFiles(join(FIXTURES, 'inclusion'));
  const consistency = jsonFiles(join(FIXTURES, 'consistency'));

  it('finds every copied vector', () => {
    expect(inclusion).toHaveLength(98);
    expect(consistency).toHaveLength(98);
  });

  it('inclusion: verification fails exactly when wantErr', () => {
    let unsafe = 0;
    let valid = 0;
    for (const file of inclusion) {
      const v = load(file);
      const index = int(v.leafIdx);
      if (Number.isNaN(index)) unsafe++;
      const ok = verifyInclusion(index, int(v.treeSize), bytes(v.leafHash), list(v.proof), bytes(v.root));
      expect(!ok, relative(FIXTURES, file)).toBe(v.wantErr);
      if (ok) valid++;
    }
    expect(unsafe).toBe(2);
    expect(valid).toBe(6);
  });

  it('consistency: verification fails exactly when wantErr', () => {
    let valid = 0;
    for (const file of consistency) {
      const v = load(file);
      const ok = verifyConsistency(int(v.size1), int(v.size2), list(v.proof), bytes(v.root1), bytes(v.root2));
      expect(!ok, relative(FIXTURES, file)).toBe(v.wantErr);
      if (ok) valid++;
    }
    expect(valid).toBe(6);
    console.log(`merkle vectors: ${inclusion.length} inclusion, ${consistency.length} consistency passed`);
  });

  it('reproduces the reference roots of the RFC 6962 test tree', () => {
    const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const hashes = data.map((hex) => leafHash(Buffer.from(hex, 'hex')));
    roots.forEach((root, i) => expect(merkleTreeHash(hashes.slice(0, i + 1)).toString('hex')).toBe(root));
    expect(leafHash(Buffer.from('data')).toString('base64')).toBe('DTrtAjFI/9KiWfvQzcf7PPl1ZYdg03dbgq9vkKrMLfw=');
  });
});
