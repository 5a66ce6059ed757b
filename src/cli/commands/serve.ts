import { join } from 'node:path';
import type { Command} from 'commander';
import { InvalidArgumentError } from 'commander';
import { tenantKeysExist } from '../../app/tenant-keys.js';
import { DEFAULT_TENANT } from '../../core/model.js';
import type { CliContext } from '../context.js';
import { memberKeyPath } from '../home.js';
import { DEFAULT_DATA_DIR, initialise } from './init.js';
import { parseCount } from './release.js';

export const DEFAULT_LISTEN = '127.0.0.1:7800';

function parseListen(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be HOST:PORT, e.g. 127.0.0.1:7800');
  return { host, port };
}

interface ServeFlags {
  dataDir: string;
  store?: string;
  listen: string;
  tenant: string;
  checkpointInterval: number;
  bodyLimit: number;
  signatureWindow: number;
  logLevel: string;
}

export function registerServeCommand(program: Command, ctx: CliContext, version: string): void {
  program
    .command('serve')
    .description('Run the control plane (the only command that opens the store)')
    .option('--data-dir <dir>', 'data directory: keys, and the SQLite store unless --store', DEFAULT_DATA_DIR)
    .option('--store <url>', 'postgres://… to use PostgreSQL (default: SQLite in the data directory; env COVENANT_STORE)')
    .option('--listen <host:port>', 'address to listen on', DEFAULT_LISTEN)
    .option('--tenant <name>', 'tenant', DEFAULT_TENANT)
    .option('--checkpoint-interval <seconds>', 'sign and store a checkpoint this often (0: only on demand)', parseCount, 60)
    .option('--body-limit <bytes>', 'largest accepted request body', parseCount, 1024 * 1024)
    .option('--signature-window <seconds>', 'accepted clock skew of signed requests (replay window)', parseCount, 300)
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .action(async (flags: ServeFlags) => {
      const listen = parseListen(flags.listen);
      if (!(await tenantKeysExist(flags.dataDir, flags.tenant))) {
        const result = await initialise(ctx, { dataDir: flags.dataDir, tenant: flags.tenant, name: 'admin', alg: 'ed25519', server: `http://${flags.listen}` });
        ctx.out.line(`initialised a new data directory ${result.dataDir}; admin member "${result.member}" signs with ${memberKeyPath(ctx.home())}`);
      }
      const storeUrl = flags.store ?? ctx.env.COVENANT_STORE;
      // Loaded on demand: the server's dependencies would slow every other command's start.
      const { startServer } = await import('../../server/serve.js');
      const server = await startServer({
        dataDir: flags.dataDir,
        ...(storeUrl ? { storeUrl } : {}),
        host: listen.host,
        port: listen.port,
        tenant: flags.tenant,
        checkpointIntervalMs: flags.checkpointInterval * 1000,
        bodyLimit: flags.bodyLimit,
        signatureWindowSeconds: flags.signatureWindow,
        logLevel: flags.logLevel,
        version,
      });
      ctx.out.line(`covenant listening on ${server.url}`);
      ctx.out.line(`data directory ${server.dataDir} (store: ${server.store.kind === 'sqlite' ? join(server.dataDir, 'covenant.db') : server.store.location})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    });
}
