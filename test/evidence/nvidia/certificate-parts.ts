import * as asn1js from 'asn1js';

/**
 * What the issuer signed of a certificate: its TBS, and the signature value. The fuzzers'
 * judges compare these rather than whole certificates, because the outer
 * signatureAlgorithm is not signed and its encoding may change while it still reads as the
 * inner one (OpenSSL and asn1js both accept a shortened [0] length inside RSASSA-PSS
 * parameters there, as the Azure fuzzer found).
 */
export function signedPartsOfCertificate(der: Uint8Array): Buffer[] {
  const parsed = asn1js.fromBER(der);
  const children: unknown = (parsed.result as { valueBlock?: { value?: unknown } }).valueBlock?.value;
  if (parsed.offset === -1 || !Array.isArray(children) || children.length !== 3) return [Buffer.from(der)];
  const [tbs, , signature] = children as asn1js.AsnType[];
  return [Buffer.from(tbs!.valueBeforeDecodeView), Buffer.from(signature!.valueBeforeDecodeView)];
}
