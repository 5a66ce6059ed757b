import { describe, expect, it } from 'vitest';
import { encodeAzureEvidence, MAX_AZURE_EVIDENCE_BYTES, parseAzureEvidence } from '../../../src/evidence/azure-snp-vtpm/index.js';
import { expectRefusedSync } from '../refusal.js';
import { AZURE } from './fixtures.js';

const document = (): Record<string, unknown> => JSON.parse(Buffer.from(AZURE.evidence()).toString('utf8')) as Record<string, unknown>;
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('parseAzureEvidence', () => {
  it('decodes the Trustee document: HCL report, quote, 24 PCRs, VCEK', () => {
    const parsed = parseAzureEvidence(AZURE.evidence());
    expect(parsed.hclReport).toHaveLength(2600);
    expect(parsed.quote.message).toHaveLength(122);
    expect(parsed.quote.signature).toHaveLength(256);
    expect(parsed.quote.pcrs).toHaveLength(24);
    expect(Buffer.from(parsed.quote.pcrs[0]!).toString('hex')).toBe('e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced');
    expect(parsed.vcek[0]).toBe(0x30);
  });

  it('round-trips through encodeAzureEvidence, which writes base64url without padding', () => {
    const parsed = parseAzureEvidence(AZURE.evidence());
    const encoded = encodeAzureEvidence(parsed);
    expect(Buffer.from(encoded).toString()).not.toMatch(/=/);
    expect(parseAzureEvidence(encoded)).toEqual(parsed);
  });

  it('accepts base64url with or without padding, refuses standard base64 and bad padding', () => {
    const d = document();
    const hcl = String(d['hcl_report']);
    expect(hcl.endsWith('=')).toBe(true);
    expect(parseAzureEvidence(bytes({ ...d, hcl_report: hcl.replace(/=+$/, '') })).hclReport).toHaveLength(2600);
    for (const bad of [hcl.replace(/-/g, '+'), hcl.replace(/_/g, '/'), `${hcl}=`, `${hcl.replace(/=+$/, '')}==`, `${hcl.slice(0, -4)}A`]) {
      expectRefusedSync(() => parseAzureEvidence(bytes({ ...d, hcl_report: bad })), 'malformed', /hcl_report/);
    }
  });

  it('refuses another version by name as unsupported', () => {
    expectRefusedSync(() => parseAzureEvidence(bytes({ ...document(), version: 2 })), 'unsupported', /version 2/);
    expectRefusedSync(() => parseAzureEvidence(bytes({ ...document(), version: '1' })), 'unsupported', /version "1"/);
    const { version: _version, ...legacy } = document();
    expectRefusedSync(() => parseAzureEvidence(bytes(legacy)), 'unsupported', /unversioned legacy/);
  });

  it('refuses unknown members, missing members and wrong shapes as malformed', () => {
    const d = document();
    const quote = d['tpm_quote'] as Record<string, unknown>;
    const pcrs = quote['pcrs'] as string[];
    for (const [value, message] of [
      [{ ...d, extra: 1 }, /extra/],
      [{ ...d, vcek: undefined }, /vcek/],
      [{ ...d, tpm_quote: { ...quote, pcrs: pcrs.slice(0, 23) } }, /pcrs/],
      [{ ...d, tpm_quote: { ...quote, pcrs: [...pcrs, pcrs[0]] } }, /pcrs/],
      [{ ...d, tpm_quote: { ...quote, pcrs: pcrs.map((p, i) => (i === 3 ? p.slice(2) : p)) } }, /pcrs\.3/],
      [{ ...d, tpm_quote: { ...quote, message: 'xyz' } }, /message/],
      [{ ...d, tpm_quote: { ...quote, signature: '' } }, /signature/],
      [{ ...d, tpm_quote: { ...quote, nonce: '00' } }, /nonce/],
    ] as const) {
      expectRefusedSync(() => parseAzureEvidence(bytes(value)), 'malformed', message);
    }
  });

  it('refuses what is not a UTF-8 JSON object, a __proto__ member and oversized input as malformed', () => {
    expectRefusedSync(() => parseAzureEvidence(new Uint8Array([0x7b, 0xff])), 'malformed', /UTF-8 JSON/);
    expectRefusedSync(() => parseAzureEvidence(bytes([1])), 'malformed', /object/);
    expectRefusedSync(() => parseAzureEvidence(bytes(null)), 'malformed', /object/);
    expectRefusedSync(() => parseAzureEvidence(new TextEncoder().encode('{"version":1,"__proto__":{}}')), 'malformed', /__proto__/);
    expectRefusedSync(() => parseAzureEvidence(new Uint8Array(MAX_AZURE_EVIDENCE_BYTES + 1)), 'malformed', /above/);
  });
});
