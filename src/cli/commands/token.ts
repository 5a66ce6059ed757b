import type { JsonWebKey } from 'node:crypto';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { CovenantError } from '../../core/errors.js';
import type { EarClaims } from '../../verifier/ear.js';
import type { Client } from '../client.js';
import type { CliContext } from '../context.js';
import { formatFields } from '../output.js';
import { parseHex } from './evidence.js';
import { RELATIVE_FORMS } from '../../core/duration.js';
import { timeArgument } from '../context.js';

interface VerifyFlags {
  at?: Date;
  nonce?: Uint8Array;
  workload?: string;
  json?: boolean;
}

/** `-` reads standard input, so a token need not appear in shell history or `ps`. */
async function readToken(argument: string): Promise<string> {
  const token = (argument === '-' ? await text(process.stdin) : argument).trim();
  if (token === '') throw new CovenantError('bad-request', argument === '-' ? 'no token on standard input' : 'the token is empty');
  return token;
}

async function fetchJwks(client: Client): Promise<{ keys: JsonWebKey[] }> {
  const jwks = await client.get<{ keys?: unknown } | undefined>('/.well-known/jwks.json');
  // Anything else answering on that port would otherwise surface as a TypeError.
  if (!Array.isArray(jwks?.keys)) throw new CovenantError('bad-request', `${client.server} serves no JWKS at /.well-known/jwks.json`);
  return { keys: jwks.keys as JsonWebKey[] };
}

/** The whole reason in one line: a malformed claim set names its fields only in `issues`. */
function reasonOf(error: CovenantError): string {
  if (error.issues.length === 0) return error.message;
  return `${error.message} (${error.issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')})`;
}

// The verifier modules are loaded on demand: jose and zod would add tens of
// milliseconds to the start of every other command.

async function verifyToken(jwt: string, jwks: { keys: JsonWebKey[] }, options: VerifyFlags): Promise<EarClaims> {
  const { verifyEar } = await import('../../verifier/ear.js');
  try {
    return await verifyEar(jwt, jwks, options.at ?? new Date(), {
      ...(options.nonce === undefined ? {} : { expectedNonce: options.nonce }),
      ...(options.workload === undefined ? {} : { workload: options.workload }),
    });
  } catch (error) {
    if (!(error instanceof CovenantError)) throw error;
    // main() prints a CovenantError as one line and exits 1.
    throw new CovenantError(error.type, `token invalid: ${reasonOf(error)}`, { cause: error });
  }
}

const isoTime = (seconds: number): string => new Date(seconds * 1000).toISOString();

async function summary(token: string, claims: EarClaims): Promise<[string, string][]> {
  const [{ decodeProtectedHeader }, { thumbprintOf }] = await Promise.all([import('jose'), import('../../verifier/token-keys.js')]);
  const rows: [string, string][] = [
    ['kid', String(decodeProtectedHeader(token).kid)],
    ['issued', isoTime(claims.iat)],
    ['expires', isoTime(claims.exp)],
    ['instance key', `${await thumbprintOf(claims.cnf.jwk as JsonWebKey)} (cnf.jwk thumbprint)`],
    ['verifier', `${claims['ear.verifier-id'].developer} ${claims['ear.verifier-id'].build}`],
  ];
  for (const [workload, appraisal] of Object.entries(claims.submods)) {
    rows.push(['workload', workload], ['status', appraisal['ear.status']], ['policy', appraisal['ear.appraisal-policy-id']]);
    if (appraisal['covenant.tee'] !== undefined) rows.push(['tee', appraisal['covenant.tee']]);
    const release = appraisal['covenant.release'];
    if (release !== undefined) rows.push(['release', `${release.version} (${release.digest})`]);
    const vector = Object.entries(appraisal['ear.trustworthiness-vector']).map(([claim, value]) => `${claim}=${value}`);
    rows.push(['trust vector', vector.length === 0 ? '(empty)' : vector.join(' ')]);
  }
  return rows;
}

export function registerTokenCommands(program: Command, ctx: CliContext): void {
  const token = program.command('token').description("Attestation result tokens (EAR), checked against the server's published keys");

  token
    .command('verify <token>')
    .description("Verify an attestation result token (EAR JWT, or - for standard input) with the server's JWKS and print its claims")
    .option('--at <time>', `check exp and iat at this time: ${RELATIVE_FORMS.any} (default: now)`, timeArgument('any'))
    .option('--nonce <hex>', 'the nonce the token must carry (eat_nonce)', parseHex)
    .option('--workload <name>', 'require an appraisal of this workload')
    .option('--json', 'print the verified claims as JSON')
    .action(async (argument: string, options: VerifyFlags, command: Command) => {
      const jwt = await readToken(argument);
      const jwks = await fetchJwks(await ctx.client(command));
      const claims = await verifyToken(jwt, jwks, options);
      if (options.json) return ctx.out.json(claims);
      ctx.out.line(formatFields(await summary(jwt, claims)));
    });

  token
    .command('check <token>')
    .description('Ask the server whether a result token (or - for standard input) still stands: signed by it, not expired, naming releases the policy in force accepts; exit 1 if not')
    .option('--json', 'print the answer as JSON')
    .action(async (argument: string, options: { json?: boolean }, command: Command) => {
      const answer = await (await ctx.client(command)).ask<{ valid: boolean; reasons: string[] }>('/v1/tokens/check', { token: await readToken(argument) });
      if (options.json) ctx.out.json(answer);
      else if (answer.valid) ctx.out.line('the token stands');
      // A script asks for the exit code: a token that does not stand is a refusal.
      if (!answer.valid) throw new CovenantError('forbidden', `the token does not stand: ${answer.reasons.join('; ')}`);
    });

  token
    .command('rotate-key')
    .description("Replace the tenant's token-signing key on the running servers (a governed change of class 'token-key'); the old key stays in the JWKS until every token it signed has expired")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const rotated = await (await ctx.client(command)).post<{ kid: string; rotatedAt: string; everyReplicaBy: string; previousPublishedUntil: string }>('/v1/token-keys/rotations', {});
      if (options.json) return ctx.out.json(rotated);
      ctx.out.line(`new token key ${rotated.kid}: signing on this server since ${rotated.rotatedAt}, on every replica by ${rotated.everyReplicaBy}`);
      ctx.out.line(`the previous key stays in the JWKS until ${rotated.previousPublishedUntil}`);
    });
}
