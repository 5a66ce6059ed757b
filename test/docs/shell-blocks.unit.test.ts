import { describe, expect, it } from 'vitest';
import { continues, expectsFailure, extractBlocks, firstMissing, isShellBlock, mapDatabase, normalise, steps } from './shell-blocks.js';

const fence = '```';
const doc = (...lines: string[]): string => lines.join('\n');

describe('extractBlocks', () => {
  it('finds fenced blocks with their language, line and markers, without the fence indentation', () => {
    const blocks = extractBlocks(
      doc(
        '# Title',
        `${fence}json`,
        '{"a": 1}',
        fence,
        '1. Step:',
        '',
        '   <!-- docs-test: skip — needs a real SEV-SNP report -->',
        `   ${fence}`,
        '   $ covenant evidence verify report.bin',
        '   ok',
        `   ${fence}`,
        '<!-- docs-test: skip -->',
        fence,
        'covenant audit verify',
        fence,
        '<!-- docs-test: file signed.sh -->',
        `${fence}bash`,
        '#!/usr/bin/env bash',
        fence,
      ),
    );
    expect(blocks.map((b) => [b.line, b.lang, b.skip, b.file])).toEqual([
      [2, 'json', undefined, undefined],
      [8, '', 'needs a real SEV-SNP report', undefined],
      [13, '', '', undefined],
      [17, 'bash', undefined, 'signed.sh'],
    ]);
    expect(blocks[1]!.lines).toEqual(['$ covenant evidence verify report.bin', 'ok']);
  });

  it('reads which document a walkthrough continues', () => {
    expect(continues(doc('intro', '<!-- docs-test: continues attestation.md -->', fence))).toBe('attestation.md');
    expect(continues('no marker')).toBeUndefined();
  });
});

describe('isShellBlock', () => {
  const block = (lang: string, ...lines: string[]) => ({ line: 1, lang, lines });
  it('runs shell-labelled blocks, transcripts and blocks of plain commands', () => {
    expect(isShellBlock(block('sh', 'curl -s "$SERVER/healthz"'))).toBe(true);
    expect(isShellBlock(block('', '$ covenant workload list', 'NAME'))).toBe(true);
    expect(isShellBlock(block('', 'npx covenant workload create a/b', 'npx covenant audit verify'))).toBe(true);
  });

  it('does not run synopses, diagrams, output, other languages or file blocks', () => {
    expect(isShellBlock(block('', 'covenant proposal show <id> [--json]'))).toBe(false);
    expect(isShellBlock(block('', 'covenant audit verify [--log-key <vkey>]'))).toBe(false);
    expect(isShellBlock(block('', 'request ──► authenticate ──► command'))).toBe(false);
    expect(isShellBlock(block('', 'covenant: <what went wrong> (<problem type>, HTTP <status>)'))).toBe(false);
    expect(isShellBlock(block('json', '{"a": 1}'))).toBe(false);
    expect(isShellBlock({ ...block('bash', 'set -e'), file: 'x.sh' })).toBe(false);
  });
});

describe('steps', () => {
  it('splits a transcript into commands with their sample output, joining continuation lines', () => {
    const result = steps({
      line: 10,
      lang: '',
      lines: ['$ M=sha256:abc', '$ covenant release register w \\', '    --version 1.0.0', 'registered w 1.0.0', '', '$ echo $?', '0', ''],
    });
    expect(result).toEqual([
      { line: 11, command: 'M=sha256:abc', expected: [] },
      { line: 12, command: 'covenant release register w \\\n    --version 1.0.0', expected: ['registered w 1.0.0'] },
      { line: 16, command: 'echo $?', expected: ['0'] },
    ]);
  });

  it('takes every line of a plain block as a command', () => {
    expect(steps({ line: 1, lang: 'sh', lines: ['mkdir -m 700 x', '', 'cp a \\', '  b'] })).toEqual([
      { line: 2, command: 'mkdir -m 700 x', expected: [] },
      { line: 4, command: 'cp a \\\n  b', expected: [] },
    ]);
  });
});

describe('expectsFailure', () => {
  it('is true when the sample output shows a refusal or a usage error', () => {
    expect(expectsFailure(['covenant: no workload named a/b (not-found, HTTP 404)'])).toBe(true);
    expect(expectsFailure(["error: required option '--sim' not specified"])).toBe(true);
    expect(expectsFailure(['status  affirming', 'approve with: covenant proposal approve e1'])).toBe(false);
  });
});

describe('normalise and firstMissing', () => {
  it('replaces times, digests, ids and numbers, and collapses table padding', () => {
    expect(normalise('1.0.0    accepted  2026-11-22T11:19:51.974Z  628581473771b6a2')).toBe('#.#.# accepted <time> <id>');
    expect(normalise('instance  d-1agd4KuIS9UPTJMlPax3FnnVHBdU-lDuUAXUTPEMs')).toBe('instance <id>');
    expect(normalise('SEQ  SECURITYVERSIONFLOOR  contraindicated')).toBe('SEQ SECURITYVERSIONFLOOR contraindicated');
  });

  it('finds sample lines in order, with … standing for anything and for the rest of a shortened id', () => {
    const actual = [
      'policy version 1  ddab86a2c8e36a63ee8dc0c141fc302d95d27b4f0d47ecee66d529fff29f4652',
      'predecessor     -',
      'stored k version 1 (28 bytes, sha256:9d2e0f1a22aa, key file:0123456789abcdef)',
    ].join('\n');
    expect(firstMissing(['policy version 2  44be3e2e457ef04ccef8345f1df63ffa8f5e2703282205b773ed4e501585a0cc', '…', 'stored k version 1 (28 bytes, sha256:5b0c…, key file:9f2c41d07a3b66e1)'], actual)).toBeUndefined();
    expect(firstMissing(['stored k version 1 (28 bytes, sha256:5b0c…, key kms:9f2c41d07a3b66e1)'], actual)).toBe('stored k version 1 (28 bytes, sha256:5b0c…, key kms:9f2c41d07a3b66e1)');
    expect(firstMissing(['predecessor     -', 'policy version 1  ddab86a2c8e36a63ee8dc0c141fc302d95d27b4f0d47ecee66d529fff29f4652'], actual)).toBe(
      'policy version 1  ddab86a2c8e36a63ee8dc0c141fc302d95d27b4f0d47ecee66d529fff29f4652',
    );
    expect(firstMissing(['accepted        1.0.0'], actual)).toBe('accepted        1.0.0');
  });
});

describe('mapDatabase', () => {
  const map = (command: string) => mapDatabase(command, '127.0.0.1', '_run1');

  it('points the docs\' database host at the local one and gives each database name the run\'s suffix', () => {
    expect(map('createdb -h db.internal -U postgres covenant')).toBe('createdb -h 127.0.0.1 -U postgres covenant_run1');
    expect(map('pg_dump -h db.internal -U postgres -Fc -f /backup/covenant.dump covenant')).toBe('pg_dump -h 127.0.0.1 -U postgres -Fc -f /backup/covenant.dump covenant_run1');
    expect(map('pg_restore -h db.internal -U postgres -d covenant_restored /backup/covenant.dump')).toBe('pg_restore -h 127.0.0.1 -U postgres -d covenant_restored_run1 /backup/covenant.dump');
    expect(map('covenant serve --data-dir /srv/covenant --store postgres://postgres@db.internal:5432/covenant --listen 127.0.0.1:7803')).toBe(
      'covenant serve --data-dir /srv/covenant --store postgres://postgres@127.0.0.1:5432/covenant_run1 --listen 127.0.0.1:7803',
    );
  });

  it('leaves commands that do not name the docs\' database host alone', () => {
    expect(map('covenant serve --data-dir /srv/covenant -d covenant')).toBe('covenant serve --data-dir /srv/covenant -d covenant');
  });
});
