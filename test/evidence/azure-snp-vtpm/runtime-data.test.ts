import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkParavisorVmpl, checkRuntimeDataBinding, parseHclReport, parseRuntimeData, rsaThumbprint } from '../../../src/evidence/azure-snp-vtpm/index.js';
import { expectRefusedSync } from '../refusal.js';
import { AZURE } from './fixtures.js';

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const realRuntime = (): Uint8Array => parseHclReport(AZURE.parts().hclReport).runtimeData;
const realDocument = (): Record<string, unknown> => JSON.parse(Buffer.from(realRuntime()).toString('utf8')) as Record<string, unknown>;
const rsaJwk = (bits: number, kid: string): Record<string, unknown> => ({
  kid,
  ...generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }),
});

describe('parseRuntimeData on the real runtime data', () => {
  it('finds the RSA-2048 HCLAkPub, the EK and the VM configuration', async () => {
    const runtime = parseRuntimeData(realRuntime());
    expect(runtime.ak.asymmetricKeyType).toBe('rsa');
    expect(runtime.ak.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(runtime.vmConfiguration).toEqual({ 'console-enabled': true, 'secure-boot': true, 'tpm-enabled': true, vmUniqueId: '26F8BC30-774E-4290-8E7A-535F3B672AEE' });
    expect(runtime.userData).toBe('0'.repeat(128));
    // RFC 7638, cross-checked with jose.
    const ak = (realDocument()['keys'] as Record<string, string>[])[0]!;
    expect(runtime.akThumbprint).toBe(await calculateJwkThumbprint({ kty: 'RSA', n: ak['n'], e: ak['e'] }, 'sha256'));
    expect(runtime.ekThumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(runtime.ekThumbprint).not.toBe(runtime.akThumbprint);
  });
});

describe('parseRuntimeData refusals and limits', () => {
  const ak = rsaJwk(2048, 'HCLAkPub');

  it('refuses what is not a UTF-8 JSON object as malformed', () => {
    expectRefusedSync(() => parseRuntimeData(new Uint8Array([0xff, 0xfe])), 'malformed', /UTF-8 JSON/);
    expectRefusedSync(() => parseRuntimeData(json([1, 2])), 'malformed', /object/);
    expectRefusedSync(() => parseRuntimeData(new Uint8Array()), 'malformed');
  });

  it('refuses runtime data without keys or without HCLAkPub as missing-collateral', () => {
    expectRefusedSync(() => parseRuntimeData(json({})), 'missing-collateral', /no keys/);
    expectRefusedSync(() => parseRuntimeData(json({ keys: [{ ...ak, kid: 'HCLEkPub' }] })), 'missing-collateral', /no HCLAkPub/);
  });

  it('refuses two keys named HCLAkPub as malformed, whatever the EK', () => {
    expectRefusedSync(() => parseRuntimeData(json({ keys: [ak, rsaJwk(2048, 'HCLAkPub')] })), 'malformed', /2 keys named HCLAkPub/);
  });

  it('refuses an EC or a short RSA AK as unsupported, a broken one as malformed', () => {
    const ec = { kid: 'HCLAkPub', ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) };
    expectRefusedSync(() => parseRuntimeData(json({ keys: [ec] })), 'unsupported', /"EC"/);
    expectRefusedSync(() => parseRuntimeData(json({ keys: [rsaJwk(1024, 'HCLAkPub')] })), 'unsupported', /1024-bit/);
    expectRefusedSync(() => parseRuntimeData(json({ keys: [{ kid: 'HCLAkPub', kty: 'RSA', e: 'AQAB' }] })), 'malformed', /n and e/);
    expectRefusedSync(() => parseRuntimeData(json({ keys: [{ kid: 'HCLAkPub', kty: 'RSA', e: 'AQAB', n: '!!' }] })), 'malformed');
  });

  it('keeps only primitive members of vm-configuration, as plain data even when named __proto__', () => {
    const bytes = new TextEncoder().encode(
      `{"keys":[${JSON.stringify(ak)}],"vm-configuration":{"secure-boot":false,"n":3,"nested":{"a":1},"list":[1],"__proto__":"x"}}`,
    );
    const runtime = parseRuntimeData(bytes);
    expect(runtime.vmConfiguration).toEqual({ 'secure-boot': false, n: 3, ['__proto__']: 'x' });
    expect(Object.getPrototypeOf(runtime.vmConfiguration)).toBe(Object.prototype);
    expectRefusedSync(() => parseRuntimeData(json({ keys: [ak], 'vm-configuration': 'on' })), 'malformed', /vm-configuration/);
  });

  it('leaves out an EK it cannot read and user-data that is not a string', () => {
    const runtime = parseRuntimeData(json({ keys: [ak, { kid: 'HCLEkPub', kty: 'oct' }], 'user-data': 5 }));
    expect(runtime.ekThumbprint).toBeUndefined();
    expect(runtime.userData).toBeUndefined();
    expect(runtime.akThumbprint).toBe(rsaThumbprint(runtime.ak));
  });
});

describe('the binding of the vTPM to the SNP report', () => {
  it('accepts only VMPL 0, the paravisor', () => {
    expect(() => checkParavisorVmpl(0)).not.toThrow();
    for (const vmpl of [1, 2, 3]) expectRefusedSync(() => checkParavisorVmpl(vmpl), 'chain', new RegExp(`VMPL ${vmpl}`));
  });

  it('requires REPORT_DATA = SHA-256(runtime data) ‖ 32 zero bytes', () => {
    const runtime = realRuntime();
    const reportData = parseHclReport(AZURE.parts().hclReport).snpReport.slice(0x50, 0x90);
    expect(() => checkRuntimeDataBinding(reportData, runtime)).not.toThrow();
    const tail = new Uint8Array(reportData);
    tail[63] = 1;
    expectRefusedSync(() => checkRuntimeDataBinding(tail, runtime), 'measurement-mismatch', /non-zero/);
    expectRefusedSync(() => checkRuntimeDataBinding(reportData, runtime.subarray(1)), 'measurement-mismatch', /does not hash/);
    expectRefusedSync(() => checkRuntimeDataBinding(reportData.subarray(0, 32), runtime), 'measurement-mismatch');
  });
});
