import type { Digest } from '../../core/model.js';
import type { VerifiedQuote } from './quote.js';
import { hashName } from './structures.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The quoted PCRs as configuration digests named `pcr<index>`. */
export function pcrConfig(quote: VerifiedQuote): Record<string, Digest> {
  const config: Record<string, Digest> = {};
  for (const pcr of quote.selected) config[`pcr${pcr.index}`] = { alg: pcr.bank, hex: hex(pcr.value) };
  return config;
}

/** What a verified quote says besides its PCRs, for a plugin's claim details; `scheme` names the signature scheme (`rsassa`, `ecdsa`…). */
export function quoteDetails(quote: VerifiedQuote, scheme: string): Record<string, unknown> {
  const { attest } = quote;
  return {
    clockInfo: {
      // u64: a string keeps every bit through JSON.
      clock: attest.clockInfo.clock.toString(),
      resetCount: attest.clockInfo.resetCount,
      restartCount: attest.clockInfo.restartCount,
      safe: attest.clockInfo.safe,
    },
    firmwareVersion: `0x${attest.firmwareVersion.toString(16).padStart(16, '0')}`,
    qualifiedSigner: hex(attest.qualifiedSigner),
    pcrSelection: attest.pcrSelections
      .filter((selection) => selection.pcrs.length > 0)
      .map((selection) => ({ alg: hashName(selection.hash) ?? selection.hash, pcrs: [...selection.pcrs] })),
    signatureScheme: `${scheme}-${quote.digestAlg}`,
  };
}
