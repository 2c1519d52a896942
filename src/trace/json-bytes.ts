// Byte-level JSON scanning: skip strings and values and compare short tokens in a raw body, without decoding or parsing it.

/** True when `needle` is at `i` (a short needle: cheaper than a native compare call). */
export function bytesAt(body: Buffer, i: number, needle: Buffer): boolean {
  if (i + needle.length > body.length) return false;
  for (let k = 0; k < needle.length; k++) if (body[i + k] !== needle[k]) return false;
  return true;
}

/** True when bytes [start, end) are exactly `needle`. */
export function bytesAre(body: Buffer, start: number, end: number, needle: Buffer): boolean {
  return end - start === needle.length && bytesAt(body, start, needle);
}

/** JSON whitespace (space, tab, LF, CR). */
export function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** The first index at or after `i` that is not JSON whitespace. */
export function skipSpace(body: Buffer, i: number): number {
  while (isSpace(body[i])) i++;
  return i;
}

/** A backslash among bytes [start, end) (a short range: a key or a type name). */
export function hasEscape(body: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (body[k] === 0x5c) return true;
  return false;
}

/** Index just past the string whose opening quote is at `open`, or -1 when it does not end. */
export function skipString(body: Buffer, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = body.indexOf(0x22, from);
    if (quote < 0) return -1;
    let b = quote - 1;
    while (body[b] === 0x5c) b--;
    if ((quote - 1 - b) % 2 === 0) return quote + 1; // an even run of backslashes escapes nothing
    from = quote + 1;
  }
}

/** Index just past the JSON value at `i` (a string, object, array or literal), or -1. */
export function skipValue(body: Buffer, i: number): number {
  const c = body[i];
  if (c === 0x22) return skipString(body, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < body.length; j++) {
      const b = body[j];
      if (b === 0x22) {
        const end = skipString(body, j);
        if (end < 0) return -1;
        j = end - 1;
      } else if (b === 0x7b || b === 0x5b) depth++;
      else if ((b === 0x7d || b === 0x5d) && --depth === 0) return j + 1;
    }
    return -1;
  }
  let j = i;
  for (; j < body.length; j++) {
    const b = body[j];
    if (b === 0x2c || b === 0x7d || b === 0x5d || isSpace(b)) break;
  }
  return j > i ? j : -1;
}
