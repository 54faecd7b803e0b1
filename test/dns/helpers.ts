// Shared setup for DNS tests: a server on 127.0.0.1 port 0 with a MemoryAnswerTable and
// PrefixClientMapper filled directly, and small real-socket clients (UDP, TCP, dig).
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as packet from 'dns-packet';
import { ZoneConfigSchema } from '../../selector/dns/config.js';
import type { SelectorConfig } from '../../selector/config.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { createDnsServer, type DnsServer } from '../../selector/dns/index.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';

export const run = promisify(execFile);

/**
 * The UDP engine the DNS tests run against: VANTAGE_TEST_UDP_ENGINE (vitest.config.ts
 * runs these files a second time with dgram), else auto (the native batch engine if built).
 */
export function testUdpEngine(): SelectorConfig['dns']['udpEngine'] {
  const e = process.env.VANTAGE_TEST_UDP_ENGINE;
  return e === 'batch' || e === 'dgram' ? e : 'auto';
}

export function dnsConfig(over: Partial<SelectorConfig['dns']> = {}): SelectorConfig['dns'] {
  return {
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: [ZoneConfigSchema.parse({ name: 'example.test', ns: ['ns1.example.test', 'ns2.example.test'], hostmaster: 'hostmaster.example.test', serial: 2026112501, minimum: 60, ttl: 3600 })],
    maxTcpConnections: 1024,
    tcpIdleTimeoutMs: 10_000,
    rateLimit: 0,
    udpEngine: testUdpEngine(),
    ...over,
  };
}

export interface World {
  server: DnsServer;
  table: MemoryAnswerTable;
  mapper: PrefixClientMapper;
  port: number;
}

/**
 * www.example.test: agent-a (198.51.0.0/16 and 2001:db8::/32) → 192.0.2.1 first,
 * agent-b (198.51.100.0/24 inside it, 2001:db8:1::/48) → 192.0.2.2 first,
 * default → 192.0.2.3 first. same.example.test has one answer for everyone.
 */
export async function startWorld(over: Partial<SelectorConfig['dns']> = {}): Promise<World> {
  const table = new MemoryAnswerTable();
  const mapper = new PrefixClientMapper();
  table.setService('www.example.test', 30);
  table.setAnswer('www.example.test', 'agent-a', ['192.0.2.1', '192.0.2.2', '2001:db8:ffff::1']);
  table.setAnswer('www.example.test', 'agent-b', ['192.0.2.2', '192.0.2.1', '2001:db8:ffff::2']);
  table.setAnswer('www.example.test', DEFAULT_KEY, ['192.0.2.3', '192.0.2.1']);
  table.setService('same.example.test', 60);
  table.setAnswer('same.example.test', DEFAULT_KEY, ['192.0.2.9']);
  table.setAnswer('same.example.test', 'agent-a', ['192.0.2.9']);
  table.setService('v4only.deep.example.test', 30);
  table.setAnswer('v4only.deep.example.test', DEFAULT_KEY, ['192.0.2.7']);
  mapper.setPrefixes([
    { prefix: '198.51.0.0/16', agent: 'agent-a' },
    { prefix: '198.51.100.0/24', agent: 'agent-b' },
    { prefix: '2001:db8::/32', agent: 'agent-a' },
    { prefix: '2001:db8:1::/48', agent: 'agent-b' },
  ]);
  mapper.setAgentStates(new Map([['agent-a', 'fresh'], ['agent-b', 'fresh']]));
  const server = createDnsServer({ dns: dnsConfig(over), table, mapper, services: ['planned.example.test'] });
  await server.start();
  return { server, table, mapper, port: server.addresses()[0]?.port as number };
}

export function udpQuery(port: number, msg: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => { sock.close(); resolve(undefined); }, timeoutMs);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.on('error', (e) => { clearTimeout(timer); sock.close(); reject(e); });
    sock.send(msg, port, host);
  });
}

export async function udp(port: number, q: packet.Packet): Promise<packet.DecodedPacket> {
  const r = await udpQuery(port, packet.encode(q));
  if (!r) throw new Error('no UDP response');
  return packet.decode(r);
}

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

/** A raw query (dns-packet) with optional EDNS and ECS. */
export function query(name: string, type: packet.RecordType = 'A', opts: { id?: number; ecs?: string; udpSize?: number; edns?: boolean } = {}): packet.Packet {
  const additionals: packet.Answer[] = [];
  if (opts.edns || opts.ecs || opts.udpSize) {
    const options: packet.PacketOpt[] = [];
    if (opts.ecs) {
      const [ip = '', len = '0'] = opts.ecs.split('/');
      options.push({ code: 'CLIENT_SUBNET', ip, sourcePrefixLength: Number(len), scopePrefixLength: 0 } as packet.PacketOpt);
    }
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: opts.udpSize ?? 1232, flags: 0, options } as packet.Answer);
  }
  return { type: 'query', id: opts.id ?? 4242, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }], additionals };
}

export function ecsOf(r: packet.DecodedPacket): { sourcePrefixLength: number; scopePrefixLength: number; ip: string } | undefined {
  const opt = r.additionals?.find((a) => a.type === 'OPT') as { options?: { code: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string }[] } | undefined;
  return opt?.options?.find((o) => o.code === 8);
}

export function addressesOf(r: packet.DecodedPacket): string[] {
  return (r.answers ?? []).map((a) => String((a as { data: unknown }).data));
}
