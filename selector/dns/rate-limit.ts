// Response rate limiting per client network (/24 IPv4, /56 IPv6), a token bucket each.
// Over-limit UDP responses are dropped, except every second one which is "slipped"
// as a TC response so a real client behind a spoofed flood can still retry over TCP
// (the BIND RRL design: slip = 2).
import type { Family } from '../../shared/prefix.js';

export const RateDecision = { SEND: 0, DROP: 1, SLIP: 2 } as const;
export type RateDecisionValue = (typeof RateDecision)[keyof typeof RateDecision];

interface Bucket {
  tokens: number;
  lastMs: number;
  excess: number;
}

export class ResponseRateLimiter {
  private buckets = new Map<number | string, Bucket>();
  private sweepAtMs = 0;

  /** `perSecond` responses per second per network; the burst is one second's worth. */
  constructor(private readonly perSecond: number, private readonly now: () => number = Date.now) {}

  check(family: Family, addr: Uint8Array): RateDecisionValue {
    const nowMs = this.now();
    const key = family === 4
      ? (((addr[0] ?? 0) << 16) | ((addr[1] ?? 0) << 8) | (addr[2] ?? 0))
      : Buffer.from(addr.buffer, addr.byteOffset, 7).toString('latin1');
    let b = this.buckets.get(key);
    if (!b) {
      if (nowMs >= this.sweepAtMs) this.sweep(nowMs);
      b = { tokens: this.perSecond, lastMs: nowMs, excess: 0 };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.perSecond, b.tokens + ((nowMs - b.lastMs) * this.perSecond) / 1000);
      b.lastMs = nowMs;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return RateDecision.SEND;
    }
    b.excess++;
    return b.excess % 2 === 0 ? RateDecision.SLIP : RateDecision.DROP;
  }

  /** Forgets buckets idle long enough to be full again, so memory stays bounded. */
  private sweep(nowMs: number): void {
    this.sweepAtMs = nowMs + 10_000;
    for (const [k, b] of this.buckets) if (nowMs - b.lastMs > 2_000) this.buckets.delete(k);
  }
}

/** The slip: the response cut to header + question with TC=1 (no answer to amplify). */
export function slipResponse(resp: Buffer): Buffer {
  const out = Buffer.from(resp);
  return out.subarray(0, slipInPlace(out, resp.length));
}

/** The slip made in place on the `len`-byte response at buf[0..]; returns the new length. */
export function slipInPlace(buf: Buffer, len: number): number {
  let off = 12;
  if (buf.readUInt16BE(4) === 1) {
    while (off < len && buf[off] !== 0) off += 1 + (buf[off] as number);
    off = Math.min(off + 5, len);
  }
  buf[2] = (buf[2] as number) | 0x02;
  buf.writeUInt16BE(0, 6);
  buf.writeUInt32BE(0, 8);
  return off;
}
