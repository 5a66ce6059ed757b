import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifiedChains } from '../../../src/evidence/nvidia/chain.js';
import { nvidiaGpuPlugin, parseSpdmReport } from '../../../src/evidence/nvidia/index.js';
import { onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';
import { derSignatureOfP1363, openssl, opensslDigestVerify, opensslVerify, scratchDirectory } from '../openssl.js';
import { gpuPki } from './builders.js';
import { CHAIN_NOT_BEFORE, derAt, flipped, HOPPER, HOPPER_COCO, toPemText, type HopperVector } from './fixtures.js';

/**
 * Cross-checks against Debian's `openssl` CLI, an independent X.509 and ECDSA
 * implementation: the chain verdicts at the same times with the same anchors, and the
 * report signature over the bytes our parser says are signed. Missing openssl is a
 * failure, not a skip: the cross-check is the point.
 */

const scratch = scratchDirectory('covenant-nvidia-openssl-');
let counter = 0;

/** Every file gets a fresh name: the cases of one test write several chains. */
const write = (name: string, content: string | Uint8Array): string => scratch.write(`${counter++}-${name}`, content);

beforeAll(() => {
  expect(openssl(['version']).out).toMatch(/OpenSSL/);
});

beforeEach(() => verifiedChains.clear());

interface Case {
  readonly leaf: Uint8Array;
  readonly intermediates: readonly Uint8Array[];
  readonly root: Uint8Array;
  readonly at: Date;
}

function opensslAccepts(c: Case): boolean {
  const result = opensslVerify(
    {
      anchor: write('root.pem', toPemText(c.root)),
      untrusted: c.intermediates.length === 0 ? undefined : write('untrusted.pem', c.intermediates.map(toPemText).join('')),
      leaf: write('leaf.pem', toPemText(c.leaf)),
    },
    c.at,
  );
  return result.status === 0;
}

/** The plugin's verdict on the chain alone: the vector's own report, so only the chain can fail. */
async function pluginAccepts(v: HopperVector, c: Case): Promise<{ ok: boolean; reason?: string }> {
  const certChain = [c.leaf, ...c.intermediates].map(toPemText).join('');
  const evidence = new TextEncoder().encode(JSON.stringify({ report: Buffer.from(v.report()).toString('hex'), certChain }));
  const outcome = await onlyEvidenceErrorsAsync(() => nvidiaGpuPlugin.verify(evidence, { now: c.at, trustAnchors: [c.root] }));
  return refused(outcome) ? { ok: false, reason: outcome.reason } : { ok: true };
}

const chainOf = (v: HopperVector): { leaf: Uint8Array; intermediates: Uint8Array[]; root: Uint8Array } => ({
  leaf: derAt(v.chainPem(), 0),
  intermediates: [1, 2, 3].map((i) => derAt(v.chainPem(), i)),
  root: derAt(v.chainPem(), 4),
});

describe('openssl verify agrees on the NVIDIA chains', () => {
  it.each([HOPPER, HOPPER_COCO])('$name: valid on 2025-01-01, at the latest notBefore and late in 9999; not a second before', async (v) => {
    // OpenSSL counts the notAfter second itself as expired, RFC 5280 (and the plugin) as
    // valid; so the comparison stops one second short of 9999-12-31T23:59:59Z.
    for (const [at, expected] of [
      [v.now, true],
      [CHAIN_NOT_BEFORE, true],
      [new Date('9999-12-31T23:59:58Z'), true],
      [new Date(CHAIN_NOT_BEFORE.getTime() - 1000), false],
      [new Date('2021-06-01T00:00:00Z'), false],
    ] as const) {
      const c = { ...chainOf(v), at };
      expect(opensslAccepts(c), at.toISOString()).toBe(expected);
      expect(await pluginAccepts(v, c), at.toISOString()).toEqual(expected ? { ok: true } : { ok: false, reason: 'expired' });
    }
  });

  it('both refuse a foreign root', async () => {
    const c = { ...chainOf(HOPPER), root: (await gpuPki()).root.der, at: HOPPER.now };
    expect(opensslAccepts(c)).toBe(false);
    expect(await pluginAccepts(HOPPER, c)).toEqual({ ok: false, reason: 'chain' });
  });

  it('both refuse the chain without an intermediate', async () => {
    const full = chainOf(HOPPER);
    const c = { ...full, intermediates: [full.intermediates[0]!, full.intermediates[2]!], at: HOPPER.now };
    expect(opensslAccepts(c)).toBe(false);
    expect(await pluginAccepts(HOPPER, c)).toEqual({ ok: false, reason: 'chain' });
  });

  it.each([0, 1, 2])('both refuse intermediate %i with a flipped signature byte', async (i) => {
    const full = chainOf(HOPPER);
    const intermediates = [...full.intermediates];
    intermediates[i] = flipped(intermediates[i]!, intermediates[i]!.length - 4);
    const c = { ...full, intermediates, at: HOPPER.now };
    expect(opensslAccepts(c)).toBe(false);
    expect(await pluginAccepts(HOPPER, c)).toEqual({ ok: false, reason: 'chain' });
  });

  it('both accept an intermediate of the chain as the trust anchor', async () => {
    const full = chainOf(HOPPER);
    const c = { leaf: full.leaf, intermediates: full.intermediates.slice(0, 2), root: full.intermediates[2]!, at: HOPPER.now };
    // openssl needs -partial_chain to stop at a non-self-signed anchor; the plugin, like RFC 5280, does not.
    const result = opensslVerify(
      {
        partialChain: true,
        anchor: write('anchor.pem', toPemText(c.root)),
        untrusted: write('untrusted.pem', c.intermediates.map(toPemText).join('')),
        leaf: write('leaf.pem', toPemText(c.leaf)),
      },
      c.at,
    );
    expect(result.status).toBe(0);
    expect(await pluginAccepts(HOPPER, c)).toEqual({ ok: true });
  });
});

describe('openssl agrees on what the GPU signed', () => {
  it.each([HOPPER, HOPPER_COCO])('$name: r ‖ s over the signed bytes our parser names verify with openssl dgst, and not one byte more', (v) => {
    const parsed = parseSpdmReport(v.report());
    const signature = write('sig.der', derSignatureOfP1363(parsed.signature));
    const pub = openssl(['x509', '-in', write('leaf.pem', toPemText(derAt(v.chainPem(), 0))), '-pubkey', '-noout']);
    expect(pub.status).toBe(0);
    const key = write('leaf.pub', pub.out);
    expect(opensslDigestVerify('sha384', { key, signature, data: write('signed.bin', parsed.signed) }).out).toMatch(/Verified OK/);
    const oneMore = v.report().subarray(0, parsed.signed.length + 1);
    expect(opensslDigestVerify('sha384', { key, signature, data: write('more.bin', oneMore) }).status).not.toBe(0);
  });
});
