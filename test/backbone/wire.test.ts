// The backbone's query path on the wire (real UDP and TCP sockets, dns-packet): the
// referral's size limits (TC without EDNS, whole over TCP), NODATA for a family the LB's
// answer lacks, ECS SOURCE 0, the question's case, and what the standard path keeps.
import * as packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { ZoneConfigSchema } from '../../selector/dns/config.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { createDnsServer, type DnsServer } from '../../selector/dns/index.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { createBackbone } from '../../selector/backbone/backbone.js';
import { BackboneConfigSchema } from '../../selector/backbone/config.js';
import { lbTopic } from '../../shared/lb-protocol.js';
import { silentLogger } from '../../shared/log.js';
import { ecsOf, frame, query, tcpClient, udp, udpQuery } from '../helpers/dns-client.js';

const SERVICE = 'www.example.test';
let server: DnsServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function start(mode: 'push' | 'refer', nameservers: number): Promise<number> {
  const zones = [ZoneConfigSchema.parse({ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' })];
  const bb = createBackbone({ config: BackboneConfigSchema.parse({ mode }), zones, staleIntervals: 1000, log: silentLogger() });
  bb.setServices([{ name: SERVICE, answers: 3, ttl: 30 }]);
  const send = (kind: 'map' | 'status' | 'rankings', body: object): void => bb.handle(lbTopic('isp-a', kind), Buffer.from(JSON.stringify({ v: 1, lb: 'isp-a', ts: Date.now(), ...body })));
  send('status', { state: 'online' });
  send('map', {
    // The test client's own address is the LB's resolver (Fig. 3), so queries without ECS map too.
    label: 'isp-a', resolvers: ['127.0.0.1'], prefixes: ['198.51.100.0/24'],
    nameservers: Array.from({ length: nameservers }, (_, i) => ({ name: `name-server-number-${i}.isp-a.example.test`, address: `127.0.5.${i + 1}` })),
  });
  send('rankings', { seq: 1, intervalS: 10, services: [{ name: SERVICE, ttl: 30, default: ['192.0.2.1'], byAgent: [] }] });
  bb.evaluate();
  const own = new MemoryAnswerTable();
  own.setService(SERVICE, 30);
  own.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.1', '192.0.2.2', '2001:db8::1']);
  server = createDnsServer({
    dns: { listen: [{ host: '127.0.0.1', port: 0 }], zones, maxTcpConnections: 64, tcpIdleTimeoutMs: 2000, rateLimit: 0, udpEngine: 'dgram' },
    table: own, mapper: new PrefixClientMapper(), services: [SERVICE], wrapResponder: bb.wrap(own),
  });
  await server.start();
  return server.addresses()[0]?.port as number;
}

describe('backbone query path on the wire', () => {
  it('truncates a referral that does not fit 512 bytes without EDNS, and sends it whole over TCP and with EDNS', async () => {
    const port = await start('refer', 13);
    const plain = await udp(port, query(SERVICE, 'A', { edns: false }));
    expect(plain.flag_tc).toBe(true);
    expect(plain.answers).toEqual([]);
    const edns = await udp(port, query(SERVICE, 'A', { ecs: '198.51.100.0/24' }));
    expect(edns.flag_tc).toBe(false);
    expect(edns.authorities).toHaveLength(13);
    expect(edns.additionals?.filter((a) => a.type === 'A')).toHaveLength(13);
    const c = await tcpClient(port);
    c.sock.write(frame(packet.encode(query(SERVICE, 'A', { edns: false }))));
    const [raw] = await c.next(1);
    c.sock.destroy();
    const tcp = packet.decode(raw as Buffer);
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers?.[0]).toMatchObject({ type: 'CNAME', data: `isp-a.${SERVICE}` });
    expect(tcp.authorities?.map((a) => a.data)).toContain('name-server-number-12.isp-a.example.test');
  });

  it('answers push with NODATA + SOA for a family the LB has no address of, and echoes the question case', async () => {
    const port = await start('push', 1);
    const aaaa = await udp(port, query(SERVICE, 'AAAA', { ecs: '198.51.100.0/24' }));
    expect(aaaa.rcode).toBe('NOERROR');
    expect(aaaa.flag_aa).toBe(true);
    expect(aaaa.answers).toEqual([]);
    expect(aaaa.authorities?.[0]).toMatchObject({ type: 'SOA', name: 'example.test' });
    const mixed = await udp(port, query('WwW.ExAmPle.TEST', 'A', { ecs: '198.51.100.0/24' }));
    expect(mixed.questions?.[0]?.name).toBe('WwW.ExAmPle.TEST');
    expect(mixed.answers).toMatchObject([{ type: 'A', data: '192.0.2.1', name: 'WwW.ExAmPle.TEST' }]);
    // RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 gets scope 0.
    expect(ecsOf(await udp(port, query(SERVICE, 'A', { ecs: '0.0.0.0/0' })))?.scopePrefixLength).toBe(0);
    expect(ecsOf(await udp(port, query(SERVICE, 'A', { ecs: '198.51.100.0/24' })))?.scopePrefixLength).toBe(24);
  });

  it('leaves everything else to the standard path: apex, ANY, unknown names, FORMERR', async () => {
    const port = await start('refer', 1);
    expect((await udp(port, query('example.test', 'SOA'))).answers?.[0]?.type).toBe('SOA');
    expect((await udp(port, query(SERVICE, 'ANY'))).answers?.[0]?.type).toBe('HINFO');
    expect((await udp(port, query(`nobody.${SERVICE}`, 'A'))).rcode).toBe('NXDOMAIN');
    expect((await udp(port, query('other.test', 'A'))).rcode).toBe('REFUSED');
    const bad = Buffer.from(packet.encode(query(SERVICE, 'A')));
    bad.writeUInt16BE(2, 4); // QDCOUNT 2 with one question
    const r = await udpQuery(port, bad);
    expect(r && packet.decode(r).rcode).toBe('FORMERR');
    // Nothing a client sends crashes it: truncated packets are dropped or FORMERR, the server still answers.
    for (let n = 0; n < bad.length; n++) await udpQuery(port, bad.subarray(0, n), 100);
    expect((await udp(port, query(SERVICE, 'A', { ecs: '198.51.100.0/24' }))).answers?.[0]?.type).toBe('CNAME');
  });
});
