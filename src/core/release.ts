import { contentDigest } from './canonical.js';
import { digestProblem, formatDigest, parseDigest } from './digest.js';
import { CovenantError, type FieldIssue } from './errors.js';
import { TEE_CLASSES, type Digest, type ReferenceValues, type Release, type ReleaseDocument, type TeeClass } from './model.js';
import { configNameProblem, releaseVersionProblem, tenantNameProblem, workloadNameProblem } from './names.js';

/** What a reference value provider (CI, the CLI) supplies to register a release. */
export interface ReleaseArgs {
  readonly version: string;
  readonly class: TeeClass;
  /** Exact measurements `alg:hex`; any one of them matches. */
  readonly measurements?: readonly string[];
  /** Hex identity of the signing key (e.g. SGX MRSIGNER). */
  readonly signer?: string;
  readonly product?: string;
  readonly minSvn?: number;
  readonly securityVersion?: number;
  /** Configuration name → digest `alg:hex`. */
  readonly config?: Readonly<Record<string, string>>;
  /** Digest `alg:hex` of the SBOM (the CLI hashes the file). */
  readonly sbom?: string;
  /** Digest `alg:hex` of the provenance statement. */
  readonly provenance?: string;
}

export interface ReleaseRegistration {
  readonly document: ReleaseDocument;
  /** Content digest of `document`. */
  readonly digest: string;
}

// Bounds keep a release document (and every policy that pins it) small.
export const MAX_MEASUREMENTS = 64;
export const MAX_CONFIG_ENTRIES = 64;
const MAX_SIGNER_HEX = 256;
const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

function counterProblem(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return `must be a non-negative integer, got ${typeof value === 'number' ? String(value) : typeof value}`;
  }
  return undefined;
}

function signerProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a hex string, got ${typeof value}`;
  if (value.length === 0) return 'must not be empty';
  const bad = value.search(/[^0-9a-fA-F]/);
  if (bad >= 0) return `non-hex character ${JSON.stringify(value.charAt(bad))} at position ${bad}`;
  if (value.length % 2 !== 0) return `must have an even number of hex digits, got ${value.length}`;
  if (value.length > MAX_SIGNER_HEX) return `must have at most ${MAX_SIGNER_HEX} hex digits, got ${value.length}`;
  return undefined;
}

function productProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${typeof value}`;
  if (!PRODUCT.test(value)) return `${JSON.stringify(value.slice(0, 64))} must match [A-Za-z0-9][A-Za-z0-9._:-]{0,63}`;
  return undefined;
}

function isTeeClass(value: unknown): value is TeeClass {
  return typeof value === 'string' && (TEE_CLASSES as readonly string[]).includes(value);
}

/**
 * Builds the canonical release document from registration arguments. Every bad field is
 * reported at once (one 'validation-failed' with an issue per field). Measurements are a
 * set, so they are de-duplicated and sorted: the same reference values always give the
 * same content digest.
 */
export function buildReleaseDocument(tenant: string, workload: string, args: ReleaseArgs): ReleaseDocument {
  const issues: FieldIssue[] = [];
  const note = (field: string, message: string | undefined): void => {
    if (message !== undefined) issues.push({ field, message });
  };

  note('tenant', tenantNameProblem(tenant));
  note('workload', workloadNameProblem(workload));
  note('version', releaseVersionProblem(args.version));
  if (!isTeeClass(args.class)) {
    note('class', `unknown TEE class ${JSON.stringify(String(args.class))} (expected one of ${TEE_CLASSES.join(', ')})`);
  }

  // An empty list is what a CLI with no --measurement flags produces: treat it as absent.
  const measurements = args.measurements !== undefined && args.measurements.length > 0 ? args.measurements : undefined;
  const signerGiven = args.signer !== undefined || args.product !== undefined || args.minSvn !== undefined;
  let references: ReferenceValues | undefined;

  if (measurements !== undefined && signerGiven) {
    note('measurements', 'give either measurements or signer + product + minSvn, not both');
  } else if (measurements !== undefined) {
    if (!Array.isArray(measurements)) {
      note('measurements', 'expected an array of digests');
    } else if (measurements.length > MAX_MEASUREMENTS) {
      note('measurements', `at most ${MAX_MEASUREMENTS} measurements, got ${measurements.length}`);
    } else {
      measurements.forEach((m, i) => note(`measurements[${i}]`, digestProblem(m)));
      if (issues.length === 0) {
        const unique = [...new Set(measurements.map((m) => formatDigest(parseDigest(m))))].sort();
        references = { kind: 'measurements', measurements: unique.map((m) => parseDigest(m)) };
      }
    }
  } else if (signerGiven) {
    if (args.signer === undefined) note('signer', 'required with product and minSvn');
    else note('signer', signerProblem(args.signer));
    if (args.product === undefined) note('product', 'required with signer and minSvn');
    else note('product', productProblem(args.product));
    if (args.minSvn === undefined) note('minSvn', 'required with signer and product');
    else note('minSvn', counterProblem(args.minSvn));
    if (issues.length === 0) {
      references = {
        kind: 'signer',
        signer: (args.signer as string).toLowerCase(),
        product: args.product as string,
        minSvn: args.minSvn as number,
      };
    }
  } else {
    note('measurements', 'give reference values: measurements, or signer + product + minSvn');
  }

  if (args.securityVersion !== undefined) note('securityVersion', counterProblem(args.securityVersion));

  const config: Record<string, Digest> = {};
  if (args.config !== undefined) {
    if (typeof args.config !== 'object' || args.config === null || Array.isArray(args.config)) {
      note('config', 'expected an object of name → "alg:hex"');
    } else {
      const entries = Object.entries(args.config);
      if (entries.length > MAX_CONFIG_ENTRIES) {
        note('config', `at most ${MAX_CONFIG_ENTRIES} entries, got ${entries.length}`);
      } else {
        for (const [name, value] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          const nameProblem = configNameProblem(name);
          const valueProblem = digestProblem(value);
          note(`config.${name}`, nameProblem ?? valueProblem);
          if (nameProblem === undefined && valueProblem === undefined) config[name] = parseDigest(value);
        }
      }
    }
  }
  if (args.sbom !== undefined) note('sbom', digestProblem(args.sbom));
  if (args.provenance !== undefined) note('provenance', digestProblem(args.provenance));

  if (issues.length > 0 || references === undefined) {
    const summary = issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
    throw new CovenantError('validation-failed', `invalid release: ${summary}`, { issues });
  }

  const securityVersion = args.securityVersion ?? (references.kind === 'signer' ? references.minSvn : 0);
  return {
    tenant,
    workload,
    version: args.version,
    securityVersion,
    references: { [args.class]: references },
    config,
    ...(args.sbom !== undefined ? { sbom: parseDigest(args.sbom) } : {}),
    ...(args.provenance !== undefined ? { provenance: parseDigest(args.provenance) } : {}),
  };
}

/**
 * Registration decision. Releases are immutable: once a version exists, its reference
 * values can never change, because policies pin it by digest and verdicts cite it.
 */
export function decideReleaseRegistration(existing: Release | undefined, doc: ReleaseDocument): ReleaseRegistration {
  if (existing !== undefined) {
    const same = existing.digest === contentDigest(doc);
    throw new CovenantError(
      'conflict',
      `release ${doc.workload}@${doc.version} already exists` +
        (same ? ' with identical content' : ` with different content (digest ${existing.digest})`) +
        '; releases are immutable, register a new version',
    );
  }
  return { document: doc, digest: contentDigest(doc) };
}
