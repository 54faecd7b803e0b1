// DNS over UDP: one dgram socket per listen address; each datagram is answered
// synchronously from the responder and sent back with the size limit of RFC 6891.
import dgram from 'node:dgram';
import { parseAddress, type Family } from '../../shared/prefix.js';
import type { DnsCounters } from './stats.js';
import { RateDecision, slipInPlace, slipResponse, type RateDecisionValue, type ResponseRateLimiter } from './rate-limit.js';

/** Writes dotted-quad `text` into `out` (4 bytes) without allocating. */
function parseV4Into(text: string, out: Uint8Array): void {
  let part = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      out[part++] = n;
      n = 0;
    } else {
      n = n * 10 + (c - 0x30);
    }
  }
  out[part] = n;
}

/** Address text of a peer → bytes (IPv4-mapped IPv6 becomes IPv4). */
export function addressBytes(text: string, family: Family): Uint8Array {
  if (family === 4) {
    const out = new Uint8Array(4);
    parseV4Into(text, out);
    return out;
  }
  const cleaned = text.replace(/%.*$/, '');
  return parseAddress(cleaned).bytes;
}

export interface UdpOptions {
  host: string;
  port: number;
  family: Family;
  counters: DnsCounters;
  limiter?: ResponseRateLimiter;
  /** A fresh buffer per response (dgram's send is asynchronous), or undefined to send nothing. */
  answer(msg: Buffer, family: Family, src: Uint8Array): Buffer | undefined;
  /** The response written at out[0..] (a batch slot); its length, 0 to send nothing. */
  answerInto(msg: Buffer, family: Family, src: Uint8Array, out: Buffer): number;
  onError(err: Error): void;
}

/**
 * The response to one UDP query after rate limiting (RFC 6891 size limit applied by the
 * responder), or undefined to send nothing. Shared by the dgram and batch engines so
 * counters and rate limiting are the same on both.
 */
export function udpResponse(opts: Pick<UdpOptions, 'counters' | 'limiter' | 'answer'>, msg: Buffer, family: Family, src: Uint8Array): Buffer | undefined {
  const resp = opts.answer(msg, family, src);
  if (!resp || !opts.limiter) return resp;
  const d = limit(opts.limiter, opts.counters, family, src);
  if (d === RateDecision.SEND) return resp;
  return d === RateDecision.DROP ? undefined : slipResponse(resp);
}

/** udpResponse for the batch engine: the response is written into `out` (its slot); returns its length, 0 = none. */
export function udpResponseInto(opts: Pick<UdpOptions, 'counters' | 'limiter' | 'answerInto'>, msg: Buffer, family: Family, src: Uint8Array, out: Buffer): number {
  const len = opts.answerInto(msg, family, src, out);
  if (len === 0 || !opts.limiter) return len;
  const d = limit(opts.limiter, opts.counters, family, src);
  if (d === RateDecision.SEND) return len;
  return d === RateDecision.DROP ? 0 : slipInPlace(out, len);
}

/** The limiter's decision for a response to `src`, counted when it is not SEND. */
function limit(limiter: ResponseRateLimiter, counters: DnsCounters, family: Family, src: Uint8Array): RateDecisionValue {
  const d = limiter.check(family, src);
  if (d === RateDecision.SEND) return d;
  counters.rateLimited++;
  if (d === RateDecision.DROP) counters.dropped++;
  return d;
}

export function createUdpSocket(opts: UdpOptions): dgram.Socket {
  const { counters } = opts;
  // ipv6Only keeps an IPv6 wildcard from also taking the IPv4 port (listed separately).
  // Replies go to the literal source address: a synchronous identity lookup skips the
  // dns.lookup + nextTick that dgram#send otherwise does per datagram.
  const socket = dgram.createSocket({
    type: opts.family === 4 ? 'udp4' : 'udp6',
    ipv6Only: opts.family === 6,
    lookup: (address: string, _o: unknown, cb: (err: Error | null, address: string, family: number) => void) => cb(null, address, opts.family),
  } as dgram.SocketOptions);
  const v4 = new Uint8Array(4);
  socket.on('message', (msg, rinfo) => {
    counters.udpQueries++;
    // Source port 0 cannot be replied to (and dgram#send would throw): a spoofed packet.
    if (rinfo.port === 0) {
      counters.dropped++;
      return;
    }
    let family: Family;
    let src: Uint8Array;
    if (rinfo.family === 'IPv4') {
      parseV4Into(rinfo.address, v4);
      family = 4;
      src = v4;
    } else {
      family = 6;
      src = addressBytes(rinfo.address, 6);
    }
    const resp = udpResponse(opts, msg, family, src);
    if (!resp) return;
    try {
      socket.send(resp, rinfo.port, rinfo.address);
    } catch (err) {
      counters.dropped++;
      opts.onError(err as Error);
    }
  });
  socket.on('error', opts.onError);
  return socket;
}
