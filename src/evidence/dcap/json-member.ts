/**
 * The exact source text of a top-level member of a JSON object. Intel PCS signs the bytes
 * of the `tcbInfo` / `enclaveIdentity` value as they appear in the response body, so the
 * verifier must check the signature over that text, never over a re-serialisation.
 *
 * Call only with text JSON.parse accepted: the scanner then needs no error handling of its
 * own, and runs in one linear pass.
 */

const WS = new Set([' ', '\t', '\n', '\r']);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text[i] as string)) i++;
  return i;
}

/** Index just past the string literal starting at `i`. */
function skipString(text: string, i: number): number {
  i++;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return i;
}

/** Index just past the value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < text.length) {
      const d = text[i];
      if (d === '"') {
        i = skipString(text, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < text.length && !WS.has(text[i] as string) && text[i] !== ',' && text[i] !== '}' && text[i] !== ']') i++;
  return i;
}

/**
 * Source text of each top-level member of `text` (a JSON object), by key. A key that
 * occurs twice maps to undefined: which of two signed values counts would be a guess.
 */
export function topLevelMembers(text: string): Map<string, string | undefined> {
  const members = new Map<string, string | undefined>();
  let i = skipWs(text, 0);
  if (text[i] !== '{') return members;
  i = skipWs(text, i + 1);
  while (i < text.length && text[i] !== '}') {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, skipWs(text, keyEnd) + 1);
    const valueEnd = skipValue(text, i);
    members.set(key, members.has(key) ? undefined : text.slice(i, valueEnd));
    i = skipWs(text, valueEnd);
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  return members;
}
