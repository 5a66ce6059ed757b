/**
 * A command group named without its subcommand (`covenant workload`) is a usage error:
 * its help goes to standard error and the exit code is 2, for every group.
 */
import type { Command } from 'commander';
import { expect, it } from 'vitest';
import { buildProgram, EXIT, main } from '../../src/cli/main.js';
import { captureOutput as capture } from '../support/cli-output.js';

function groups(command: Command, prefix: readonly string[] = []): string[][] {
  return command.commands.filter((sub) => sub.commands.length > 0).flatMap((sub) => [[...prefix, sub.name()], ...groups(sub, [...prefix, sub.name()])]);
}

it('answers every group without a subcommand with its help on stderr and exit 2', async () => {
  const all = groups(buildProgram(capture(), {}));
  expect(all).toContainEqual(['workload']);
  expect(all).toContainEqual(['rollout']);
  expect(all.length).toBeGreaterThan(12);
  for (const path of all) {
    const out = capture();
    expect(await main(path, out, {}), path.join(' ')).toBe(EXIT.usage);
    expect(out.stdout, path.join(' ')).toEqual([]);
    expect(out.stderr.join('\n'), path.join(' ')).toMatch(new RegExp(`^Usage: covenant ${path.join(' ')} `));
  }
});

it('still exits 0 for --help and for covenant help <group>', async () => {
  for (const args of [['workload', '--help'], ['help', 'workload'], ['--help']]) {
    const out = capture();
    expect(await main(args, out, {}), args.join(' ')).toBe(EXIT.ok);
  }
});

it('refuses a --server that is not an http(s) URL as a usage error, wherever it comes from, before any request', async () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--server', 'notaurl', 'workload', 'list'], {}, /--server.*"notaurl" is not an http\(s\) URL/],
    [['workload', 'list', '--server', 'ftp://example.com'], {}, /"ftp:\/\/example.com" is not an http\(s\) URL/],
    [['workload', 'list'], { COVENANT_SERVER: 'notaurl', COVENANT_HOME: '/nonexistent-covenant-home' }, /^covenant: COVENANT_SERVER: "notaurl" is not an http\(s\) URL/],
  ];
  for (const [args, env, message] of cases) {
    const out = capture();
    expect(await main(args, out, env), args.join(' ')).toBe(EXIT.usage);
    expect(out.stderr.join('\n'), args.join(' ')).toMatch(message);
    expect(out.stderr.join('\n')).not.toMatch(/unexpected error/);
  }
});
