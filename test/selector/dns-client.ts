// A tiny real-UDP DNS client for selector tests (dns-packet encode/decode).
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';

export interface Reply {
  rcode: string | undefined;
  addresses: string[];
  scope: number | undefined;
}

export async function queryA(host: string, port: number, name: string, ecs?: { ip: string; length: number }): Promise<Reply> {
  const additionals: dnsPacket.Answer[] = ecs
    ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: ecs.length, scopePrefixLength: 0, ip: ecs.ip }] } as dnsPacket.Answer]
    : [];
  const id = Math.floor(Math.random() * 65535);
  const query = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: 'A', name }], additionals });
  const sock = dgram.createSocket('udp4');
  try {
    const msg = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS reply from ${host}:${port}`)), 3000);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      sock.send(query, port, host);
    });
    const res = dnsPacket.decode(msg);
    const opt = res.additionals?.find((a) => a.type === 'OPT') as { options?: { code: number; scopePrefixLength?: number }[] } | undefined;
    const ecsOpt = opt?.options?.find((o) => o.code === 8);
    return {
      rcode: res.rcode,
      addresses: (res.answers ?? []).filter((a) => a.type === 'A').map((a) => a.data as string),
      scope: ecsOpt?.scopePrefixLength,
    };
  } finally {
    sock.close();
  }
}
