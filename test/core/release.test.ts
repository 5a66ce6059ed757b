import { describe, it, expect } from 'vitest';
import { rejection } from '../support/errors.js';
import fc from 'fast-check';
import { contentDigest } from '../../src/core/canonical.js';
import type { Release } from '../../src/core/model.js';
import { buildReleaseDocument, decideReleaseRegistration, type ReleaseArgs } from '../../src/core/release.js';

const m1 = `sha384:${'1'.repeat(96)}`;
const m2 = `sha384:${'2'.repeat(96)}`;
const root = `sha256:${'a'.repeat(64)}`;

describe('buildReleaseDocument', () => {
  it('builds a measurement release with config, SBOM and provenance', () => {
    const doc = buildReleaseDocument('default', 'payments/ingest', {
      version: '1.2.0',
      class: 'sev-snp',
      measurements: [m1],
      config: { 'root-store': root.toUpperCase().replace('SHA256', 'sha256') },
      sbom: root,
      provenance: `sha512:${'f'.repeat(128)}`,
    });
    expect(doc).toEqual({
      tenant: 'default',
      workload: 'payments/ingest',
      version: '1.2.0',
      securityVersion: 0,
      references: { 'sev-snp': { kind: 'measurements', measurements: [{ alg: 'sha384', hex: '1'.repeat(96) }] } },
      config: { 'root-store': { alg: 'sha256', hex: 'a'.repeat(64) } },
      sbom: { alg: 'sha256', hex: 'a'.repeat(64) },
      provenance: { alg: 'sha512', hex: 'f'.repeat(128) },
    });
  });

  it('omits absent SBOM and provenance rather than writing undefined', () => {
    const doc = buildReleaseDocument('default', 'w', { version: '1', class: 'sim', measurements: [m1] });
    expect('sbom' in doc).toBe(false);
    expect('provenance' in doc).toBe(false);
    expect(doc.config).toEqual({});
  });

  it('builds a signer release whose security version defaults to minSvn', () => {
    const doc = buildReleaseDocument('default', 'w', { version: '2', class: 'sgx', signer: 'AB'.repeat(32), product: '1', minSvn: 7 });
    expect(doc.references).toEqual({ sgx: { kind: 'signer', signer: 'ab'.repeat(32), product: '1', minSvn: 7 } });
    expect(doc.securityVersion).toBe(7);
    const explicit = buildReleaseDocument('default', 'w', { version: '2', class: 'sgx', signer: 'ab', product: '1', minSvn: 7, securityVersion: 9 });
    expect(explicit.securityVersion).toBe(9);
  });

  it('takes an explicit security version for measurement releases', () => {
    expect(buildReleaseDocument('default', 'w', { version: '1', class: 'tdx', measurements: [m1], securityVersion: 4 }).securityVersion).toBe(4);
  });

  it('treats measurements as a set: order and duplicates do not change the digest', () => {
    const a = buildReleaseDocument('default', 'w', { version: '1', class: 'tdx', measurements: [m1, m2] });
    const b = buildReleaseDocument('default', 'w', { version: '1', class: 'tdx', measurements: [m2, m1, m2.toUpperCase().replace('SHA384', 'sha384')] });
    expect(contentDigest(a)).toBe(contentDigest(b));
  });

  it('content digest ignores config key order (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { maxLength: 6 }), (names) => {
        const config = Object.fromEntries(names.map((n) => [n, root]));
        const reversed = Object.fromEntries([...names].reverse().map((n) => [n, root]));
        const args: ReleaseArgs = { version: '1', class: 'sim', measurements: [m1] };
        expect(contentDigest(buildReleaseDocument('default', 'w', { ...args, config }))).toBe(
          contentDigest(buildReleaseDocument('default', 'w', { ...args, config: reversed })),
        );
      }),
    );
  });

  it.each<[string, ReleaseArgs, string[]]>([
    ['no reference values', { version: '1', class: 'sim' }, ['measurements']],
    ['an empty measurement list', { version: '1', class: 'sim', measurements: [] }, ['measurements']],
    ['both forms', { version: '1', class: 'sgx', measurements: [m1], signer: 'ab', product: 'p', minSvn: 1 }, ['measurements']],
    ['an incomplete signer form', { version: '1', class: 'sgx', signer: 'ab' }, ['product', 'minSvn']],
    ['a bad signer', { version: '1', class: 'sgx', signer: 'abc', product: 'p', minSvn: 1 }, ['signer']],
    ['a negative minSvn', { version: '1', class: 'sgx', signer: 'ab', product: 'p', minSvn: -1 }, ['minSvn']],
    ['a fractional securityVersion', { version: '1', class: 'sim', measurements: [m1], securityVersion: 1.5 }, ['securityVersion']],
    ['a bad measurement', { version: '1', class: 'sim', measurements: [m1, 'sha256:xyz'] }, ['measurements[1]']],
    ['an unknown class', { version: '1', class: 'sev' as never, measurements: [m1] }, ['class']],
    ['a bad config name', { version: '1', class: 'sim', measurements: [m1], config: { 'Root Store': root } }, ['config.Root Store']],
    ['a bad config digest', { version: '1', class: 'sim', measurements: [m1], config: { root: 'md5:00' } }, ['config.root']],
    ['bad SBOM and provenance digests', { version: '1', class: 'sim', measurements: [m1], sbom: 'x', provenance: 'sha256:1' }, ['sbom', 'provenance']],
    ['a bad version', { version: '-1', class: 'sim', measurements: [m1] }, ['version']],
    ['too many measurements', { version: '1', class: 'sim', measurements: Array.from({ length: 65 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`) }, ['measurements']],
  ])('rejects %s, naming every bad field', (_label, args, fields) => {
    const error = rejection(() => buildReleaseDocument('default', 'payments/ingest', args));
    expect(error.type).toBe('validation-failed');
    expect(error.issues.map((issue) => issue.field)).toEqual(fields);
    for (const field of fields) expect(error.message).toContain(`${field}: `);
  });

  it('validates tenant and workload', () => {
    const error = rejection(() => buildReleaseDocument('Default', 'Payments', { version: '1', class: 'sim', measurements: [m1] }));
    expect(error.issues.map((issue) => issue.field)).toEqual(['tenant', 'workload']);
  });
});

describe('decideReleaseRegistration', () => {
  const doc = buildReleaseDocument('default', 'payments/ingest', { version: '1.0.0', class: 'sim', measurements: [m1] });

  it('registers a new version under its content digest', () => {
    expect(decideReleaseRegistration(undefined, doc)).toEqual({ document: doc, digest: contentDigest(doc) });
  });

  it('refuses to register an existing version again: releases are immutable', () => {
    const existing: Release = { document: doc, digest: contentDigest(doc), status: 'registered', createdAt: '2025-01-01T00:00:00.000Z' };
    const same = rejection(() => decideReleaseRegistration(existing, doc));
    expect(same.type).toBe('conflict');
    expect(same.message).toMatch(/payments\/ingest@1\.0\.0 already exists with identical content/);
    const changed = buildReleaseDocument('default', 'payments/ingest', { version: '1.0.0', class: 'sim', measurements: [m2] });
    const different = rejection(() => decideReleaseRegistration(existing, changed));
    expect(different.type).toBe('conflict');
    expect(different.message).toMatch(/different content/);
  });
});
