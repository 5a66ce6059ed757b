/**
 * PEM ⇄ DER (RFC 7468, strict form), shared by every evidence plugin and by `src/sim/`,
 * which writes the simulated vendor's certificates.
 */

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Base64 body wrapped at 64 columns, as RFC 7468 writes it. */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const body = Buffer.from(der).toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Every block with `label` in `text`, decoded. Blocks with other labels are skipped, so a
 * file holding a certificate and its key can be read for either. Returns [] when there is
 * none; base64 that does not round-trip makes the whole text unreadable (undefined),
 * because Buffer's decoder would otherwise skip garbage silently.
 */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Uint8Array[] | undefined {
  const found: Uint8Array[] = [];
  for (const match of text.matchAll(BLOCK)) {
    if (match[1] !== label) continue;
    const body = (match[2] ?? '').replace(/\r?\n/g, '');
    if (body.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) return undefined;
    const der = Buffer.from(body, 'base64');
    if (der.toString('base64') !== body) return undefined;
    found.push(new Uint8Array(der));
  }
  return found;
}

/** True when the bytes start like PEM text rather than DER (which starts with 0x30). */
export function looksLikePem(bytes: Uint8Array): boolean {
  const prefix = '-----BEGIN ';
  const start = Buffer.from(bytes.subarray(0, 64)).toString('latin1').trimStart();
  return start.startsWith(prefix);
}
