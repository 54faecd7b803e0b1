// Federation test setup: one backbone selector and LB selectors (each with its own
// embedded aedes broker and SQLite) on free loopback ports, agents simulated by
// publishing v1 messages to the LB's broker, and a dns-packet client over real UDP.
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import mqtt, { type MqttClient } from 'mqtt';
import { createSelector, type Selector } from '../../selector/selector.js';
import { agentTopic } from '../../shared/protocol.js';
import { announce, metrics, result, selectorConfig, SITES, until } from '../helpers/fixtures.js';

export const SERVICE = 'www.example.test';

export interface Closer { close(): Promise<void> | void }

export async function bootBackbone(open: Closer[], backbone: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Selector> {
  const sel = createSelector(selectorConfig({ backbone, ...extra }));
  open.push(sel);
  await sel.start();
  return sel;
}

export interface Lb { sel: Selector; agent: MqttClient; dnsPort: number }

/** An LB whose catalogue comes from the backbone (it configures no service itself). */
export async function bootLb(open: Closer[], backbone: Selector, id: string, uplink: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Lb> {
  const sel = createSelector(selectorConfig({
    services: [],
    uplink: {
      url: `mqtt://127.0.0.1:${backbone.mqttAddress()?.port}`, id, push: true, debounceMs: 50,
      nameservers: [{ name: `ns.${id}.example.test`, address: '127.0.5.1' }], ...uplink,
    },
    ...extra,
  }));
  open.push(sel);
  await sel.start();
  const agent = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
  open.push({ close: () => agent.endAsync() });
  await until(() => sel.engine()?.serviceList().some((s) => s.name === SERVICE), 5000, `${id} has the backbone catalogue`);
  return { sel, agent, dnsPort: sel.dnsAddresses()[0]?.port as number };
}

let seqs = new Map<string, number>();

/** One measurement round of `pop` at its LB: site id → totalMs (null = failed). */
export async function round(lb: Lb, pop: string, prefixes: string[], ms: Record<string, number | null>): Promise<void> {
  const seq = (seqs.get(pop) ?? 0) + 1;
  seqs.set(pop, seq);
  if (seq === 1) await lb.agent.publishAsync(agentTopic(pop, 'announce'), announce(pop, prefixes), { qos: 1, retain: true });
  const before = lb.sel.ingestCounters()?.accepted.metrics ?? 0;
  await lb.agent.publishAsync(agentTopic(pop, 'metrics'), metrics(pop, seq, SITES.map((s) => result(s.id, ms[s.id] ?? null))), { qos: 1 });
  await until(() => (lb.sel.ingestCounters()?.accepted.metrics ?? 0) > before, 5000, `${pop} round ${seq}`);
}

export function resetSeqs(): void {
  seqs = new Map();
}

export interface Response {
  rcode: string | undefined;
  aa: boolean;
  answers: dnsPacket.Answer[];
  authorities: dnsPacket.Answer[];
  additionals: dnsPacket.Answer[];
  scope: number | undefined;
  raw: Buffer;
}

export async function query(port: number, name: string, opts: { type?: 'A' | 'AAAA' | 'NS' | 'TXT'; ecs?: string; host?: string } = {}): Promise<Response> {
  const additionals: dnsPacket.Answer[] = [];
  if (opts.ecs) {
    const [ip, len] = opts.ecs.split('/') as [string, string];
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 'CLIENT_SUBNET', family: 1, sourcePrefixLength: Number(len), scopePrefixLength: 0, ip }] } as dnsPacket.Answer);
  }
  const id = Math.floor(Math.random() * 65535);
  const msg = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: opts.type ?? 'A', name }], additionals });
  const sock = dgram.createSocket('udp4');
  try {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS reply from port ${port}`)), 3000);
      sock.on('message', (m) => { clearTimeout(timer); resolve(m); });
      sock.send(msg, port, opts.host ?? '127.0.0.1');
    });
    const res = dnsPacket.decode(raw);
    const opt = res.additionals?.find((a) => a.type === 'OPT') as { options?: { code: number; scopePrefixLength?: number }[] } | undefined;
    return {
      rcode: res.rcode, aa: Boolean(res.flag_aa), answers: res.answers ?? [], authorities: res.authorities ?? [],
      additionals: (res.additionals ?? []).filter((a) => a.type !== 'OPT'),
      scope: opt?.options?.find((o) => o.code === 8)?.scopePrefixLength, raw,
    };
  } finally {
    sock.close();
  }
}

export const addrs = (r: Response): string[] => r.answers.filter((a) => a.type === 'A').map((a) => a.data as string);

/** Polls an async condition (fixtures' until() takes only synchronous ones). */
export async function eventually(fn: () => Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
