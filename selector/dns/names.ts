// Domain-name helpers. Lookups on the query path use the wire form of a name as a
// latin1 string (length bytes + labels + root byte), lower-cased, so a name is never
// split or joined per query.

/** `www.example.test` → "\x03www\x07example\x04test\x00" (lower-cased). Root is "\x00". */
export function nameToWire(name: string): string {
  const trimmed = name.toLowerCase().replace(/\.$/, '');
  if (trimmed === '') return '\x00';
  let out = '';
  for (const label of trimmed.split('.')) out += String.fromCharCode(label.length) + label;
  return `${out}\x00`;
}

/** Encodes a name uncompressed as wire bytes (for RDATA of SOA/NS). */
export function nameToBytes(name: string): Buffer {
  return Buffer.from(nameToWire(name), 'latin1');
}

/** Inverse of nameToWire for display: wire key → dotted name without trailing dot. */
export function wireToName(wire: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < wire.length) {
    const len = wire.charCodeAt(i);
    if (len === 0) break;
    labels.push(wire.slice(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return labels.join('.');
}

/**
 * Lookup key of the name at msg[start, end). String#toLowerCase on latin1 also folds
 * 0xC0-0xDE, which only ever maps a non-ASCII name to another non-ASCII one, so ASCII
 * configured names still match case-insensitively (RFC 4343) and the native call is
 * much cheaper than a byte loop.
 */
export function wireKeyOf(msg: Buffer, start: number, end: number): string {
  return msg.toString('latin1', start, end).toLowerCase();
}
