// The one DNS client of the tests, over real sockets and the real dig: raw UDP and TCP
// (RFC 7766 framing) with dns-packet, a short A query with ECS (queryA), dig, and a
// wait-until-a-server-answers loop.
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import * as packet from 'dns-packet';
import { hasPacketCache, loadUdpBatch } from '../../selector/dns/udp-batch.js';

export const run = promisify(execFile);

/** True when the packet-cache tests can run: the native addon is built with its cache and the
 * suite is not forced onto node:dgram (the udp-dgram project). */
export function packetCacheTestable(): boolean {
  const addon = loadUdpBatch();
  return addon !== undefined && hasPacketCache(addon) && process.env.VANTAGE_TEST_UDP_ENGINE !== 'dgram';
}

/** A query (dns-packet form, RD set) with optional EDNS (`udpSize`) and ECS (`ecs: "addr/len"`). */
export function query(name: string, type: packet.RecordType = 'A', opts: { id?: number; ecs?: string; udpSize?: number; edns?: boolean } = {}): packet.Packet {
  const additionals: packet.Answer[] = [];
  if (opts.edns || opts.ecs || opts.udpSize) {
    const options: packet.PacketOpt[] = [];
    if (opts.ecs) {
      const [ip = '', len = '0'] = opts.ecs.split('/');
      options.push({ code: 'CLIENT_SUBNET', ip, sourcePrefixLength: Number(len), scopePrefixLength: 0 } as unknown as packet.PacketOpt);
    }
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: opts.udpSize ?? 1232, flags: 0, options } as packet.Answer);
  }
  return { type: 'query', id: opts.id ?? 4242, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }], additionals };
}

/** Sends `msg` from a fresh UDP socket; the first datagram back, or undefined after `timeoutMs`. */
export function udpQuery(port: number, msg: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => { sock.close(); resolve(undefined); }, timeoutMs);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.on('error', (e) => { clearTimeout(timer); sock.close(); reject(e); });
    sock.send(msg, port, host);
  });
}

/** The A addresses answered to `msg` sent from a fresh socket (a new source port each time); throws 'no UDP answer' after `timeoutMs`. */
export async function udpA(port: number, msg: Buffer, timeoutMs = 2000, host = '127.0.0.1'): Promise<string[]> {
  const r = await udpQuery(port, msg, timeoutMs, host);
  if (!r) throw new Error('no UDP answer');
  return (packet.decode(r).answers ?? []).flatMap((a) => (a.type === 'A' ? [String(a.data)] : []));
}

/** One query over UDP, decoded; throws when nothing comes back. */
export async function udp(port: number, q: packet.Packet, host = '127.0.0.1', timeoutMs = 1000): Promise<packet.DecodedPacket> {
  const r = await udpQuery(port, packet.encode(q), timeoutMs, host);
  if (!r) throw new Error(`no UDP response from ${host}:${port}`);
  return packet.decode(r);
}

/** RFC 7766 §8: the 2-byte length prefix. */
export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** Opens a TCP connection and collects framed responses. */
export function tcpClient(port: number, host = '127.0.0.1'): Promise<{ sock: net.Socket; next(n: number, timeoutMs?: number): Promise<Buffer[]>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    let buf = Buffer.alloc(0);
    const got: Buffer[] = [];
    let waiter: (() => void) | undefined;
    const closed = new Promise<void>((r) => sock.on('close', () => { r(); waiter?.(); }));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      waiter?.();
    });
    sock.on('error', () => undefined);
    const next = (n: number, timeoutMs = 2000): Promise<Buffer[]> => new Promise((res) => {
      const timer = setTimeout(() => { waiter = undefined; res(got.splice(0)); }, timeoutMs);
      waiter = () => { if (got.length >= n || sock.destroyed) { clearTimeout(timer); waiter = undefined; res(got.splice(0)); } };
      waiter();
    });
    sock.once('connect', () => resolve({ sock, next, closed }));
    sock.once('error', reject);
  });
}

export function ecsOf(r: packet.DecodedPacket): { sourcePrefixLength: number; scopePrefixLength: number; ip: string } | undefined {
  const opt = r.additionals?.find((a) => a.type === 'OPT') as { options?: { code: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string }[] } | undefined;
  return opt?.options?.find((o) => o.code === 8);
}

export function addressesOf(r: packet.DecodedPacket): string[] {
  return (r.answers ?? []).map((a) => String((a as { data: unknown }).data));
}

export interface Reply {
  rcode: string | undefined;
  addresses: string[];
  scope: number | undefined;
}

/** One A query over UDP (ECS when `ecs` is given): rcode, A addresses in order, ECS scope. Throws after 3 s without a reply. */
export async function queryA(host: string, port: number, name: string, ecs?: { ip: string; length: number }): Promise<Reply> {
  const id = Math.floor(Math.random() * 65535);
  const res = await udp(port, query(name, 'A', { id, ecs: ecs && `${ecs.ip}/${ecs.length}` }), host, 3000);
  return {
    rcode: (res as { rcode?: string }).rcode,
    addresses: (res.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data: unknown }).data)),
    scope: ecsOf(res)?.scopePrefixLength,
  };
}

export interface DigAnswer { addresses: string[]; ttls: number[]; scope: number | null; status: string }

/** dig's stdout for `args` sent to 127.0.0.1:`port` (one try, 2 s). Async: the server may run in this very process. */
export async function digRaw(port: number, ...args: string[]): Promise<string> {
  return (await run('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { encoding: 'utf8' })).stdout;
}

/**
 * One A query with dig: `subnet` adds an ECS option, `from` binds the source address,
 * `recurse` sets RD (a resolver in front), else +norec (the authoritative selector).
 */
export async function dig(port: number, name: string, opts: { subnet?: string; from?: string; recurse?: boolean } = {}): Promise<DigAnswer> {
  const args = [name, 'A', opts.recurse ? '+rec' : '+norec'];
  if (opts.subnet) args.push(`+subnet=${opts.subnet}`);
  if (opts.from) args.push('-b', opts.from);
  const out = await digRaw(port, ...args);
  const answers = [...out.matchAll(/^\S+\s+(\d+)\s+IN\s+A\s+(\S+)$/gm)];
  const ecs = /CLIENT-SUBNET: \S+\/\d+\/(\d+)/.exec(out);
  return {
    addresses: answers.map((m) => m[2] as string),
    ttls: answers.map((m) => Number(m[1])),
    scope: ecs ? Number(ecs[1]) : null,
    status: /status: (\w+)/.exec(out)?.[1] ?? '?',
  };
}

/** Waits until `host:port` answers a DNS query for `name` over UDP (any answer). */
export async function waitForDns(host: string, port: number, timeoutMs: number, failed: () => boolean = () => false, name = 'health.invalid'): Promise<void> {
  const msg = packet.encode(query(name, 'A', { id: 0x1234 }));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (failed()) throw new Error('process exited');
    if (await udpQuery(port, msg, 200, host).catch(() => undefined)) return;
    await sleep(50);
  }
  throw new Error(`no DNS answer from ${host}:${port} within ${timeoutMs} ms`);
}
