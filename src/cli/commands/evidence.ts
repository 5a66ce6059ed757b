import { readFile, writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { sha256Digest, SHA256_DIGEST } from '../../core/canonical.js';
import { CovenantError } from '../../core/errors.js';
import { EvidenceError, type Claims, type EvidencePlugin } from '../../evidence/plugin.js';
import type { RetainedEvidence } from '../../server/routes/evidence.js';
import { ATTESTATION_MEDIA_TYPE, parseEnvelope, type AttestationEnvelope } from '../../verifier/envelope.js';
import { collect, timeArgument, type CliContext } from '../context.js';
import { formatFields } from '../output.js';

export const EVIDENCE_TYPES = ['sim', 'sev-snp', 'tpm', 'nitro', 'sgx', 'tdx', 'azure-snp-vtpm', 'nvidia-gpu'] as const;
type EvidenceType = (typeof EVIDENCE_TYPES)[number];

/** Any time option: see `timeArgument` (relative times, or ISO-8601 with zone). */
export const parseTime = timeArgument('any');

export function parseHex(value: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(value)) throw new InvalidArgumentError('must be an even, non-zero number of hex digits');
  return new Uint8Array(Buffer.from(value, 'hex'));
}

export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new CovenantError('bad-request', `cannot read ${what} ${path}: ${why}`);
  }
}

/** A pin written with `echo` ends in a newline; the TPM plugin wants exactly 64 hex digits. */
export function tpmAnchor(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1').trim();
  return /^[0-9a-fA-F]{64}$/.test(text) ? new TextEncoder().encode(text) : bytes;
}

async function loadPlugin(type: EvidenceType): Promise<EvidencePlugin> {
  // Loaded on demand: the plugins pull in ASN.1 and X.509 code every other command can skip.
  switch (type) {
    case 'sim':
      return (await import('../../evidence/sim/index.js')).simPlugin;
    case 'sev-snp':
      return (await import('../../evidence/sev-snp/index.js')).sevSnpPlugin;
    case 'tpm':
      return (await import('../../evidence/tpm/index.js')).tpmPlugin;
    case 'nitro':
      return (await import('../../evidence/nitro/index.js')).nitroPlugin;
    case 'sgx':
      return (await import('../../evidence/dcap/index.js')).sgxPlugin;
    case 'tdx':
      return (await import('../../evidence/dcap/index.js')).tdxPlugin;
    case 'azure-snp-vtpm':
      return (await import('../../evidence/azure-snp-vtpm/index.js')).azureSnpVtpmPlugin;
    case 'nvidia-gpu':
      return (await import('../../evidence/nvidia/index.js')).nvidiaGpuPlugin;
  }
}

/**
 * The attestation document a server retains (`covenant evidence export`) wraps the
 * evidence with the instance key and the collateral the instance posted; anything else
 * is taken as the plugin's own format. Told apart by the document's two required members.
 */
function retainedDocument(bytes: Uint8Array): AttestationEnvelope | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || !('evidence' in json) || !('instanceKey' in json)) return undefined;
  return parseEnvelope(bytes);
}

/** The --type name of an evidence media type, for the command that re-checks it. */
async function evidenceTypeOf(mediaType: string): Promise<EvidenceType | undefined> {
  for (const type of EVIDENCE_TYPES) if ((await loadPlugin(type)).mediaTypes.includes(mediaType)) return type;
  return undefined;
}

const parseDigest = (value: string): string => {
  if (!SHA256_DIGEST.test(value)) throw new InvalidArgumentError('must be sha256: and 64 lowercase hex digits, as in the verdict entry or the token\'s covenant.evidence');
  return value;
};

function printClaims(ctx: CliContext, claims: Claims): void {
  const rows: [string, string][] = [['tee', claims.teeClass]];
  for (const m of claims.measurements) rows.push(['measurement', `${m.alg}:${m.hex}`]);
  if (claims.signer !== undefined) rows.push(['signer', claims.signer]);
  if (claims.product !== undefined) rows.push(['product', claims.product]);
  if (claims.securityVersion !== undefined) rows.push(['svn', String(claims.securityVersion)]);
  rows.push(['debug', String(claims.debug)]);
  if (claims.tcbStatus !== undefined) rows.push(['tcb status', claims.tcbStatus]);
  if (claims.tcb !== undefined) rows.push(['tcb', Object.entries(claims.tcb).map(([name, value]) => `${name}=${value}`).join(' ')]);
  for (const [name, digest] of Object.entries(claims.config)) rows.push(['config', `${name} = ${digest.alg}:${digest.hex}`]);
  if (claims.reportData !== undefined) rows.push(['report data', claims.reportData === '' ? '(empty)' : claims.reportData]);
  if (claims.publicKey !== undefined) rows.push(['public key', JSON.stringify(claims.publicKey)]);
  ctx.out.line(formatFields(rows));
  ctx.out.line('details');
  ctx.out.line(JSON.stringify(claims.details, null, 2).replace(/^/gm, '  '));
}

interface VerifyFlags {
  type: EvidenceType;
  at: Date;
  nonce?: Uint8Array;
  root?: string[];
  json?: boolean;
}

export function registerEvidenceCommands(program: Command, ctx: CliContext): void {
  const evidence = program.command('evidence').description('Attestation evidence: verified locally (no server), or exported from the server that retained it');

  evidence
    .command('verify <evidence> [collateral...]')
    .description('Verify attestation evidence offline and print its normalised claims')
    .addOption(new Option('--type <type>', 'evidence format').choices(EVIDENCE_TYPES).makeOptionMandatory())
    .requiredOption('--at <time>', 'check every validity period at this ISO-8601 date-time with zone', parseTime)
    .option('--nonce <hex>', "the nonce the evidence must carry verbatim: tpm and azure-snp-vtpm qualifying data, nitro's nonce, nvidia-gpu's SPDM nonce, the start of sgx/tdx report data (not sim or sev-snp)", parseHex)
    .option(
      '--root <file>',
      'trust anchor file (repeatable): PEM/DER certificates; for tpm also a 64-hex-digit AK pin (default: the vendor roots shipped for sev-snp, azure-snp-vtpm, sgx, tdx, nitro and nvidia-gpu; tpm and sim need one)',
      collect,
    )
    .option('--json', 'print JSON')
    .action(async (evidencePath: string, collateralPaths: string[], options: VerifyFlags, command: Command) => {
      // sim and SEV-SNP have no nonce field to compare; accepting --nonce for them would
      // look like a freshness check that never happened.
      if (options.nonce !== undefined && (options.type === 'sim' || options.type === 'sev-snp')) {
        command.error(`error: --nonce is not checked for --type ${options.type}; it binds the nonce inside report data, which is printed for you to compare`, {
          exitCode: 2,
          code: 'covenant.nonceUnchecked',
        });
      }
      let bytes = await readInput(evidencePath, 'evidence file');
      const collateral = await Promise.all(collateralPaths.map((path) => readInput(path, 'collateral file')));
      const plugin = await loadPlugin(options.type);
      const document = retainedDocument(bytes);
      if (document !== undefined) {
        if (!plugin.mediaTypes.includes(document.evidenceType)) {
          throw new CovenantError('bad-request', `${evidencePath} is an attestation document holding ${document.evidenceType} evidence, not --type ${options.type}`);
        }
        // What the instance posted is offered first, as the server did.
        bytes = document.evidence;
        collateral.unshift(...document.collateral);
        if (document.devices.length > 0) ctx.out.error(`note: the ${document.devices.length} attached device evidence document(s) are not checked here`);
      }
      let trustAnchors: Uint8Array[] | undefined;
      if (options.root !== undefined) {
        trustAnchors = await Promise.all(options.root.map((path) => readInput(path, 'root file')));
        if (options.type === 'tpm') trustAnchors = trustAnchors.map(tpmAnchor);
      }
      let claims: Claims;
      try {
        claims = await plugin.verify(bytes, {
          now: options.at,
          ...(trustAnchors === undefined ? {} : { trustAnchors }),
          ...(collateral.length === 0 ? {} : { collateral }),
          ...(options.nonce === undefined ? {} : { expectedNonce: options.nonce }),
        });
      } catch (error) {
        if (!(error instanceof EvidenceError)) throw error;
        if (options.json) ctx.out.json({ valid: false, reason: error.reason, message: error.message });
        // main() prints a CovenantError as one line and exits 1.
        throw new CovenantError('evidence-invalid', `evidence invalid (${error.reason}): ${error.message}`);
      }
      if (options.json) return ctx.out.json({ valid: true, claims });
      if (claims.teeClass === 'sim') ctx.out.error('warning: simulated TEE evidence offers no security');
      printClaims(ctx, claims);
    });

  evidence
    .command('export <digest>')
    .description("Fetch retained evidence by digest from the server: the exact bytes its verdict names, to re-check with evidence verify")
    .option('--out <file>', 'write the bytes to this file (default: standard output)')
    .action(async (digest: string, options: { out?: string }, command: Command) => {
      const exported = await (await ctx.client(command)).get<RetainedEvidence>(`/v1/evidence/${parseDigest(digest)}`);
      const bytes = new Uint8Array(Buffer.from(exported.body, 'base64'));
      // The server is not trusted for this: the digest in the ledger is.
      if (sha256Digest(bytes) !== digest) throw new CovenantError('evidence-invalid', `the server sent bytes whose digest is ${sha256Digest(bytes)}, not ${digest}`);
      if (options.out === undefined) process.stdout.write(bytes);
      else await writeFile(options.out, bytes, { mode: 0o600 });
      const where = exported.verdict === null ? '' : `; verdict entry ${exported.verdict} of ${exported.workload ?? '?'}`;
      ctx.out.error(`${options.out === undefined ? 'wrote' : `wrote to ${options.out}`} ${bytes.length} bytes of ${exported.mediaType}${where}`);
      if (exported.mediaType === ATTESTATION_MEDIA_TYPE && options.out !== undefined && exported.receivedAt !== null) {
        const type = await evidenceTypeOf(parseEnvelope(bytes).evidenceType);
        ctx.out.error(`re-check with: covenant evidence verify --type ${type ?? '<type>'} --at ${exported.receivedAt} ${options.out} [--root <file>] [collateral files]`);
      }
    });
}
