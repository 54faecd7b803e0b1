// Address and prefix helpers for IPv4 and IPv6, and a binary trie doing
// longest-prefix match that also reports the ECS scope an answer may be cached for.
import ipaddr from 'ipaddr.js';
import { PrefixError } from './errors.js';

export type Family = 4 | 6;

export interface Prefix {
  readonly family: Family;
  /** Network bytes, host bits cleared: 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
  readonly length: number;
  /** Canonical text form, e.g. `198.51.100.0/24`. */
  readonly text: string;
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** Parses an IPv4 or IPv6 address (no prefix); throws PrefixError. */
export function parseAddress(text: string): { family: Family; bytes: Uint8Array } {
  if (typeof text !== 'string' || !ipaddr.isValid(text)) throw new PrefixError(`invalid address "${text}"`);
  // ipaddr.isValid accepts legacy forms like "127.1"; require dotted quad for IPv4.
  if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) throw new PrefixError(`invalid address "${text}"`);
  const addr = ipaddr.parse(text);
  const family: Family = addr.kind() === 'ipv4' ? 4 : 6;
  return { family, bytes: Uint8Array.from(addr.toByteArray()) };
}

// A dotted quad, each part 0-255 without leading zeros (what isValidFourPartDecimal accepts).
const DOTTED_QUAD = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isAddress(text: string): boolean {
  // Every result of every metrics message names its address: the common IPv4 case skips
  // ipaddr's parse (about 3 % of ingest CPU); anything else takes the full check.
  if (typeof text === 'string' && DOTTED_QUAD.test(text)) return true;
  try { parseAddress(text); return true; } catch { return false; }
}

export function formatAddress(family: Family, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}

/** Clears every bit past `length`; returns a new array of the family's full size. */
export function maskBytes(bytes: Uint8Array, length: number, family: Family): Uint8Array {
  const out = new Uint8Array(family === 4 ? 4 : 16);
  const full = length >> 3;
  for (let i = 0; i < full && i < out.length; i++) out[i] = bytes[i] ?? 0;
  const rem = length & 7;
  if (rem && full < out.length) out[full] = (bytes[full] ?? 0) & (0xff << (8 - rem));
  return out;
}

/**
 * Parses `addr/len` (or a bare address, taken as a host prefix). Host bits past the
 * length are cleared, so `198.51.100.7/24` is `198.51.100.0/24`.
 */
export function parsePrefix(text: string): Prefix {
  if (typeof text !== 'string') throw new PrefixError(`invalid prefix ${JSON.stringify(text)}`);
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const { family, bytes } = parseAddress(addrText);
  let length = bitsOf(family);
  if (slash !== -1) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bitsOf(family)) {
      throw new PrefixError(`invalid prefix length in "${text}"`);
    }
    length = Number(lenText);
  }
  const net = maskBytes(bytes, length, family);
  return Object.freeze({ family, bytes: net, length, text: `${formatAddress(family, net)}/${length}` });
}

export function isPrefix(text: string): boolean {
  try { parsePrefix(text); return true; } catch { return false; }
}

/** True when `addr` lies inside `prefix`. */
export function prefixContains(prefix: Prefix, family: Family, addr: Uint8Array): boolean {
  if (prefix.family !== family) return false;
  const masked = maskBytes(addr, prefix.length, family);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== prefix.bytes[i]) return false;
  return true;
}

interface TrieNode<T> {
  zero: TrieNode<T> | undefined;
  one: TrieNode<T> | undefined;
  has: boolean;
  value: T | undefined;
}

export interface Match<T> {
  value: T;
  /** Length of the matching prefix. */
  length: number;
}

function node<T>(): TrieNode<T> {
  return { zero: undefined, one: undefined, has: false, value: undefined };
}

function bitAt(bytes: Uint8Array, i: number): number {
  return ((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
}

/**
 * Longest-prefix-match table, one binary trie per family. `lookup` also returns the
 * ECS scope: the shortest prefix length around the client for which every address
 * would get the same match, so a cache can never reuse an answer for a client in a
 * nested, more specific prefix (RFC 7871 §7.3.1).
 */
export class PrefixTable<T> {
  private readonly roots: Record<Family, TrieNode<T>> = { 4: node<T>(), 6: node<T>() };
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(prefix: Prefix, value: T): void {
    let n = this.roots[prefix.family];
    for (let i = 0; i < prefix.length; i++) {
      if (bitAt(prefix.bytes, i)) n = n.one ??= node<T>();
      else n = n.zero ??= node<T>();
    }
    if (!n.has) this.count++;
    n.has = true;
    n.value = value;
  }

  /**
   * Finds the longest prefix containing the first `sourceLength` bits of `addr`
   * (bits past it are ignored, as ECS requires). `scope` is the prefix length the
   * answer is valid for; it is 0 when the table holds nothing for this family.
   */
  lookup(family: Family, addr: Uint8Array, sourceLength = bitsOf(family)): { match: Match<T> | undefined; scope: number } {
    let n: TrieNode<T> | undefined = this.roots[family];
    let match: Match<T> | undefined;
    let depth = 0;
    const max = Math.min(sourceLength, bitsOf(family));
    for (;;) {
      if (n.has) match = { value: n.value as T, length: depth };
      if (depth >= max) break;
      const next: TrieNode<T> | undefined = bitAt(addr, depth) ? n.one : n.zero;
      if (!next) break;
      n = next;
      depth++;
    }
    // `n` is the deepest trie node on the client's path. If it has children, some
    // other prefix lies inside the block of length `depth`, so the answer holds only
    // for the block one bit longer. A leaf is the match itself (or the empty root).
    const leaf = !n.zero && !n.one;
    const scope = leaf ? depth : Math.min(depth + 1, bitsOf(family));
    return { match, scope };
  }

  *entries(): Generator<[string, T]> {
    for (const family of [4, 6] as const) {
      const bytes = new Uint8Array(family === 4 ? 4 : 16);
      yield* walk(this.roots[family], 0, bytes, family);
    }
  }
}

function* walk<T>(n: TrieNode<T>, depth: number, bytes: Uint8Array, family: Family): Generator<[string, T]> {
  if (n.has) yield [`${formatAddress(family, bytes)}/${depth}`, n.value as T];
  const byte = depth >> 3;
  const bit = 0x80 >> (depth & 7);
  if (n.zero) yield* walk(n.zero, depth + 1, bytes, family);
  if (n.one) {
    bytes[byte] = (bytes[byte] ?? 0) | bit;
    yield* walk(n.one, depth + 1, bytes, family);
    bytes[byte] = (bytes[byte] ?? 0) & ~bit;
  }
}
