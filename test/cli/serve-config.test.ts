/**
 * `covenant serve --config <file>`: every option of serve can come from a JSON file
 * keyed by the long option names; the command line wins; a bad file is a usage error
 * (exit 2) naming the file and the key.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConfigFile } from '../../src/cli/commands/serve.js';
import { buildProgram, EXIT, main } from '../../src/cli/main.js';
import { SERVE_CONFIG_KEYS } from '../../src/cli/serve-config.js';
import { captureOutput as capture } from '../support/cli-output.js';

function serveCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'serve')!;
}

/** The options `serve` would run with, for this command line and environment, without starting it. */
async function resolvedFlags(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Record<string, unknown>> {
  const program = buildProgram(capture(), env);
  let flags: Record<string, unknown> = {};
  serveCommand(program).action(async (given: { config?: string }, command: Command) => {
    flags = given.config === undefined ? given : { ...(await withConfigFile(command, given.config, env)) };
  });
  await program.parseAsync(['serve', ...argv], { from: 'user' });
  return flags;
}

describe('serve --config', () => {
  let dir: string;
  let n = 0;
  const configFile = async (content: unknown): Promise<string> => {
    const file = join(dir, `config-${++n}.json`);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  const refusal = async (content: unknown): Promise<{ code: number; stderr: string; file: string }> => {
    const file = await configFile(content);
    const out = capture();
    const code = await main(['serve', '--config', file], out, { COVENANT_HOME: join(dir, 'home') });
    return { code, stderr: out.stderr.join('\n'), file };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-serve-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('takes a key for every option of serve, named as the option', () => {
    const options = serveCommand(buildProgram(capture(), {}))
      .options.map((o) => o.long!.slice(2))
      .filter((name) => name !== 'config');
    expect([...SERVE_CONFIG_KEYS].sort()).toEqual(options.sort());
  });

  it('sets options through their own parsers; the command line and COVENANT_STORE win', async () => {
    const file = await configFile({
      'data-dir': '/srv/covenant',
      listen: '[::1]:7900',
      tenant: 'acme',
      'signature-window': 60,
      'attest-in-flight': 8,
      'tpm-anchor': ['a.pem', 'b.pem'],
      anchor: ['nitro=root.pem'],
      store: 'postgres://file/covenant',
    });
    expect(await resolvedFlags(['--config', file])).toMatchObject({
      dataDir: '/srv/covenant',
      listen: { host: '::1', port: 7900 },
      tenant: 'acme',
      signatureWindow: 60,
      attestInFlight: 8,
      tpmAnchor: ['a.pem', 'b.pem'],
      anchor: [{ tee: 'nitro', file: 'root.pem' }],
      store: 'postgres://file/covenant',
      // Not in the file: the default.
      checkpointInterval: 60,
    });
    const overridden = await resolvedFlags(['--config', file, '--tenant', 'other', '--tpm-anchor', 'c.pem', '--listen', '127.0.0.1:0'], { COVENANT_STORE: 'postgres://env/covenant' });
    expect(overridden).toMatchObject({ dataDir: '/srv/covenant', tenant: 'other', tpmAnchor: ['c.pem'], listen: { host: '127.0.0.1', port: 0 } });
    expect(overridden.store).toBeUndefined();
    expect(await resolvedFlags(['--config', file, '--store', 'postgres://flag/covenant'], { COVENANT_STORE: 'postgres://env/covenant' })).toMatchObject({ store: 'postgres://flag/covenant' });
  });

  it('refuses an unknown key in one line naming the key and the file (exit 2)', async () => {
    const { code, stderr, file } = await refusal({ dataDir: '/srv/covenant' });
    expect(code).toBe(EXIT.usage);
    expect(stderr).toBe(
      `covenant: ${file}: unknown key "dataDir" (did you mean "data-dir"?); the keys are serve's long option names: data-dir, store, listen, tenant, checkpoint-interval, body-limit, signature-window, log-level, sim-dir, tpm-anchor, anchor, evidence-retention, inventory-retention, attest-rate, attest-burst, attest-in-flight, token-lifetime, rollout-interval, authority`,
    );
    expect((await refusal({ config: 'other.json' })).stderr).toMatch(/: unknown key "config"; the keys are/);
  });

  it('refuses wrong types, values the option refuses, non-JSON and a missing file as usage errors', async () => {
    for (const [content, message] of [
      [{ 'body-limit': '1mb' }, /: "body-limit" must be a number$/],
      [{ 'tpm-anchor': 'a.pem' }, /: "tpm-anchor" must be a list of strings$/],
      [{ listen: 7800 }, /: "listen" must be a string$/],
      [['data-dir'], /: must hold a JSON object of serve's options/],
      [{ listen: 'localhost' }, /: "listen": must be HOST:PORT, e.g. 127.0.0.1:7800$/],
      [{ 'signature-window': 0 }, /: "signature-window": must be between 1 and 86400$/],
      [{ 'checkpoint-interval': 1.5 }, /: "checkpoint-interval": must be a non-negative integer$/],
      [{ anchor: ['tpm=ak.pem'] }, /: "anchor": "tpm" ships no vendor root to replace/],
      ['{"data-dir": "/srv",}', /config-\d+\.json is not JSON: /],
    ] as const) {
      const { code, stderr } = await refusal(content);
      expect(code, JSON.stringify(content)).toBe(EXIT.usage);
      expect(stderr, JSON.stringify(content)).toMatch(message);
      expect(stderr.split('\n'), JSON.stringify(content)).toHaveLength(1);
    }
    const out = capture();
    expect(await main(['serve', '--config', join(dir, 'nowhere.json')], out, {})).toBe(EXIT.usage);
    expect(out.stderr).toEqual([`covenant: cannot read --config ${join(dir, 'nowhere.json')}: no such file`]);
  });
});
