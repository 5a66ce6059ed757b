/**
 * Every command of the CLI, group or leaf, describes itself and answers --help with its
 * usage and exit 0 (the guide's "--help on every command"), walked from the program.
 */
import type { Command } from 'commander';
import { expect, it } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';
import { captureOutput as capture } from '../support/cli-output.js';

function paths(command: Command, prefix: readonly string[] = []): string[][] {
  return command.commands.flatMap((sub) => [[...prefix, sub.name()], ...paths(sub, [...prefix, sub.name()])]);
}

it('has a description and --help on every command', async () => {
  const all = paths(buildProgram(capture(), {}));
  expect(all.length).toBeGreaterThan(60);
  expect(all).toContainEqual(['collateral', 'import']);
  for (const path of all) {
    const out = capture();
    const code = await main([...path, '--help'], out, {});
    expect(code, path.join(' ')).toBe(0);
    expect(out.text(), path.join(' ')).toMatch(new RegExp(`^Usage: covenant ${path.join(' ')}\\b`));
    const described = path.reduce<Command>((command, name) => command.commands.find((c) => c.name() === name)!, buildProgram(capture(), {}));
    expect(described.description().length, path.join(' ')).toBeGreaterThan(10);
  }
});
