// A DNS client that asks like a resolver serving a POP's clients would: an A query
// over UDP carrying an EDNS Client Subnet option (RFC 7871 §6) with the POP's prefix.
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { parsePrefix } from '../../shared/prefix.js';

export interface EcsClient {
  /** The A addresses answered, in order; [] on timeout, error or empty answer. */
  query(name: string, prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function createEcsClient(server: { host: string; port: number }, timeoutMs = 800): Promise<EcsClient> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const pending = new Map<number, (addresses: string[]) => void>();
  let nextId = Math.floor(Math.random() * 0xffff);
  socket.on('message', (msg) => {
    let packet: dnsPacket.Packet;
    try {
      packet = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const done = pending.get(packet.id ?? -1);
    if (!done) return;
    pending.delete(packet.id ?? -1);
    done((packet.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data: unknown }).data)));
  });
  return {
    query(name, prefixText) {
      const prefix = parsePrefix(prefixText);
      nextId = (nextId + 1) & 0xffff;
      const id = nextId;
      const buf = dnsPacket.encode({
        type: 'query', id, flags: 0,
        questions: [{ type: 'A', name }],
        additionals: [{
          type: 'OPT', name: '.', udpPayloadSize: 1232,
          options: [{ code: 8, family: 1, sourcePrefixLength: prefix.length, scopePrefixLength: 0, ip: prefix.text.split('/')[0] }],
        } as dnsPacket.Answer],
      });
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve([]);
        }, timeoutMs);
        pending.set(id, (addresses) => {
          clearTimeout(timer);
          resolve(addresses);
        });
        socket.send(buf, server.port, server.host);
      });
    },
    close: () => new Promise((resolve) => {
      for (const done of pending.values()) done([]);
      pending.clear();
      socket.close(() => resolve());
    }),
  };
}
