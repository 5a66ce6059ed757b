/**
 * A minimal DER reader for the few certificate fields Node 20 does not expose as data
 * (validity times as instants, the subject's attributes). It only ever runs on bytes
 * OpenSSL has already parsed as a certificate, yet still checks every bound, and throws
 * a plain Error on anything unexpected — the caller turns that into an EvidenceError.
 * pkijs could do this, but its schema matching costs ~2 ms per certificate, which is most
 * of a sim verification.
 */

interface Tlv {
  readonly tag: number;
  /** Offset of the contents. */
  readonly start: number;
  /** Offset just past the contents. */
  readonly end: number;
}

const TAG = {
  sequence: 0x30,
  set: 0x31,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  version: 0xa0,
} as const;

function readTlv(der: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new Error('DER: truncated header');
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not expected here');
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > limit) throw new Error('DER: bad length');
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + (der[start + i] as number);
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new Error('DER: length past the end');
  return { tag, start, end };
}

function expectTlv(der: Uint8Array, offset: number, limit: number, tag: number, what: string): Tlv {
  const tlv = readTlv(der, offset, limit);
  if (tlv.tag !== tag) throw new Error(`DER: expected ${what}`);
  return tlv;
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const found: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const tlv = readTlv(der, at, parent.end);
    found.push(tlv);
    at = tlv.end;
  }
  return found;
}

function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new Error('DER: empty OID');
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new Error('DER: OID arc too large');
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  if ((bytes[bytes.length - 1] as number) & 0x80) throw new Error('DER: truncated OID');
  return arcs.join('.');
}

const TIME = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

function decodeTime(der: Uint8Array, tlv: Tlv): Date {
  const text = Buffer.from(der.subarray(tlv.start, tlv.end)).toString('latin1');
  const match = TIME.exec(text);
  const digitsOfYear = tlv.tag === TAG.utcTime ? 2 : tlv.tag === TAG.generalizedTime ? 4 : 0;
  if (match === null || (match[1] as string).length !== digitsOfYear) throw new Error('DER: bad time');
  let year = Number(match[1]);
  // RFC 5280 §4.1.2.5.1: two-digit years 50–99 are 19xx, 00–49 are 20xx.
  if (digitsOfYear === 2) year += year >= 50 ? 1900 : 2000;
  const [month, day, hour, minute, second] = match.slice(2).map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new Error('DER: time out of range');
  }
  return date;
}

// String types a Name may use; anything else is shown as `#hex` as RFC 4514 does.
function decodeString(der: Uint8Array, tlv: Tlv): string {
  const bytes = Buffer.from(der.subarray(tlv.start, tlv.end));
  switch (tlv.tag) {
    case 0x0c: // UTF8String
    case 0x13: // PrintableString
    case 0x16: // IA5String
      return bytes.toString('utf8');
    case 0x1e: // BMPString, UTF-16BE
      return bytes.length % 2 === 0 ? Buffer.from(bytes).swap16().toString('utf16le') : `#${bytes.toString('hex')}`;
    default:
      return `#${bytes.toString('hex')}`;
  }
}

export interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

export interface CertificateFields {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Attributes in encoded order (most significant first). */
  readonly subject: readonly NameAttribute[];
}

function decodeName(der: Uint8Array, name: Tlv): NameAttribute[] {
  const attributes: NameAttribute[] = [];
  for (const rdn of children(der, name)) {
    if (rdn.tag !== TAG.set) throw new Error('DER: expected RDN SET');
    for (const pair of children(der, rdn)) {
      if (pair.tag !== TAG.sequence) throw new Error('DER: expected AttributeTypeAndValue');
      const [type, value, ...rest] = children(der, pair);
      if (type === undefined || value === undefined || rest.length > 0 || type.tag !== TAG.oid) throw new Error('DER: bad attribute');
      attributes.push({ type: decodeOid(der.subarray(type.start, type.end)), value: decodeString(der, value) });
    }
  }
  return attributes;
}

export function readCertificateFields(der: Uint8Array): CertificateFields {
  const certificate = expectTlv(der, 0, der.length, TAG.sequence, 'Certificate');
  if (certificate.end !== der.length) throw new Error('DER: bytes after the certificate');
  const tbs = expectTlv(der, certificate.start, certificate.end, TAG.sequence, 'TBSCertificate');
  const fields = children(der, tbs);
  const first = fields[0]?.tag === TAG.version ? 1 : 0;
  // serialNumber, signature, issuer, validity, subject
  const validity = fields[first + 3];
  const subject = fields[first + 4];
  if (validity?.tag !== TAG.sequence || subject?.tag !== TAG.sequence) throw new Error('DER: bad TBSCertificate');
  const [notBefore, notAfter, ...rest] = children(der, validity);
  if (notBefore === undefined || notAfter === undefined || rest.length > 0) throw new Error('DER: bad Validity');
  return { notBefore: decodeTime(der, notBefore), notAfter: decodeTime(der, notAfter), subject: decodeName(der, subject) };
}
