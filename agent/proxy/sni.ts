// Reads the server name (RFC 6066 §3) from the first TLS record of a connection, a
// ClientHello (RFC 8446 §4.1.2), without decrypting anything: enough to route a TLS
// connection by name. Hostile bytes give `invalid`, never an exception.

export type SniResult =
  | { kind: 'more' }             // the record is not complete yet
  | { kind: 'invalid' }          // not a TLS ClientHello
  | { kind: 'name'; name: string | undefined }; // undefined: no SNI extension

/** Largest first record we wait for (RFC 8446 §5.1: 2^14 bytes of plaintext). */
export const MAX_HELLO_BYTES = 5 + 16_384;

export function readSni(buf: Buffer): SniResult {
  if (buf.length < 5) return { kind: 'more' };
  if (buf[0] !== 0x16 || buf[1] !== 0x03) return { kind: 'invalid' };
  const recordLen = buf.readUInt16BE(3);
  if (recordLen > 16_384) return { kind: 'invalid' };
  if (buf.length < 5 + recordLen) return { kind: 'more' };
  const rec = buf.subarray(5, 5 + recordLen);
  // Handshake header: type 1 (client_hello), 3-byte length; the hello must fit this record.
  if (rec.length < 4 || rec[0] !== 0x01) return { kind: 'invalid' };
  const helloLen = (rec[1] as number) << 16 | (rec[2] as number) << 8 | (rec[3] as number);
  if (helloLen + 4 > rec.length) return { kind: 'invalid' };
  let p = 4 + 2 + 32; // legacy_version, random
  const need = (n: number): boolean => p + n <= 4 + helloLen;
  if (!need(1)) return { kind: 'invalid' };
  p += 1 + (rec[p] as number); // session id
  if (!need(2)) return { kind: 'invalid' };
  p += 2 + rec.readUInt16BE(p); // cipher suites
  if (!need(1)) return { kind: 'invalid' };
  p += 1 + (rec[p] as number); // compression methods
  if (p === 4 + helloLen) return { kind: 'name', name: undefined }; // no extensions
  if (!need(2)) return { kind: 'invalid' };
  const extEnd = p + 2 + rec.readUInt16BE(p);
  p += 2;
  if (extEnd > 4 + helloLen) return { kind: 'invalid' };
  while (p + 4 <= extEnd) {
    const type = rec.readUInt16BE(p);
    const len = rec.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return { kind: 'invalid' };
    if (type === 0x0000) {
      // server_name_list: 2-byte length, then entries of (type, 2-byte length, name).
      let q = p + 2;
      const listEnd = Math.min(p + len, p + 2 + rec.readUInt16BE(p));
      while (q + 3 <= listEnd) {
        const nameType = rec[q] as number;
        const nameLen = rec.readUInt16BE(q + 1);
        q += 3;
        if (q + nameLen > listEnd) return { kind: 'invalid' };
        if (nameType === 0) {
          const name = rec.subarray(q, q + nameLen).toString('latin1').toLowerCase().replace(/\.$/, '');
          return /^[a-z0-9_.-]{1,253}$/.test(name) ? { kind: 'name', name } : { kind: 'invalid' };
        }
        q += nameLen;
      }
      return { kind: 'name', name: undefined };
    }
    p += len;
  }
  return { kind: 'name', name: undefined };
}
