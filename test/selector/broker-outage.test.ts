// DNS never waits for the bus (DESIGN.md "Replicas and clustered brokers"): a selector
// whose external broker is unreachable at start starts anyway, answers DNS from its
// config and persisted state, reports the broker as down (/metrics, /api/status), applies
// and persists a drain at once, and publishes it when the broker (real Mosquitto) is back.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { watch, type Watcher } from '../helpers/mqtt-watch.js';
import { freeTcpPort, freeUdpPort } from '../helpers/net.js';
import { queryA, waitForDns } from '../helpers/dns-client.js';
import { selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

let sel: Selector | undefined;
let broker: MosquittoHandle | undefined;
let watcher: Watcher | undefined;
afterAll(async () => {
  await watcher?.close();
  await sel?.close();
  await broker?.stop();
});

async function http(path: string, method = 'GET'): Promise<{ status: number; text: string }> {
  const a = sel?.adminAddress() as { host: string; port: number };
  const res = await fetch(`http://${a.host}:${a.port}${path}`, { method });
  return { status: res.status, text: await res.text() };
}

describe('external broker unreachable at start', () => {
  it('starts, answers DNS at once, reports the broker down, and publishes a drain made meanwhile once it is back', async () => {
    const port = await freeTcpPort();
    const url = `mqtt://127.0.0.1:${port}`;
    sel = createSelector(selectorConfig({ mqtt: { url } }));
    const s = sel;
    const starting = s.start(); // nothing listens on `port`
    // DNS answers while start() still gives the broker its moment.
    await until(() => s.dnsAddresses().length > 0, 2000, 'DNS up');
    const dnsPort = s.dnsAddresses()[0]?.port as number;
    // Fail-open from config: all three sites, in configured order.
    expect((await queryA('127.0.0.1', dnsPort, SERVICE)).addresses).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    await starting;

    expect(sel.brokerStatus()).toMatchObject({ mode: 'external', connected: false });
    expect((await http('/metrics')).text).toMatch(/^vantage_selector_broker_connected 0$/m);
    const status = JSON.parse((await http('/api/status')).text) as { broker: { connected: boolean; mode: string } };
    expect(status.broker).toMatchObject({ connected: false, mode: 'external' });

    // A drain while no broker is reachable: applied and persisted at once.
    const t1 = Date.now();
    const drained = await http(`/api/services/${SERVICE}/sites/us-east/drain`, 'POST');
    expect(drained.status).toBe(200);
    expect(Date.now() - t1).toBeLessThan(2000);
    expect((await queryA('127.0.0.1', dnsPort, SERVICE)).addresses).toEqual(['127.2.0.2', '127.2.0.3']);
    const row = sel.store()?.db.prepare('SELECT drained FROM sites WHERE service = ? AND id = ?').get(SERVICE, 'us-east') as { drained: number };
    expect(row.drained).toBe(1);
    expect(sel.brokerStatus()?.pendingPublishes).toBe(1);

    // The broker comes up: the selector connects and publishes the catalogue with the drain.
    broker = await startMosquitto({ port });
    await until(() => sel?.brokerStatus()?.connected, 10_000, 'selector connected');
    watcher = await watch(url, CATALOGUE_TOPIC);
    const cat = await watcher.waitFor((m) => m.topic === CATALOGUE_TOPIC, 5000, 'retained catalogue');
    expect(cat.retain).toBe(true);
    const sites = (JSON.parse(cat.payload) as { services: { sites: { id: string; drained?: boolean }[] }[] }).services[0]?.sites;
    expect(sites?.find((s) => s.id === 'us-east')?.drained).toBe(true);
    await until(() => sel?.brokerStatus()?.pendingPublishes === 0, 5000, 'nothing pending');
    expect((await http('/metrics')).text).toMatch(/^vantage_selector_broker_connected 1$/m);

    // The broker goes away again: DNS keeps answering, the gauge says so.
    await broker.stop();
    await until(() => sel?.brokerStatus()?.connected === false, 5000, 'disconnect noticed');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE)).addresses).toEqual(['127.2.0.2', '127.2.0.3']);
    expect((await http('/metrics')).text).toMatch(/^vantage_selector_broker_connected 0$/m);
  }, 40_000);
});

describe('vantage-selector run (dist) with no broker reachable', () => {
  // Regression: the process exited ("cannot connect"), so systemd restarted it in a loop
  // and the authoritative DNS was down because the metrics bus was.
  it('keeps running and answering DNS; SIGTERM still exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-outage-'));
    const dnsPort = await freeUdpPort();
    const httpPort = await freeTcpPort();
    const dead = [await freeTcpPort(), await freeTcpPort()].map((p) => `mqtt://127.0.0.1:${p}`);
    const conf = join(dir, 'selector.json');
    writeFileSync(conf, JSON.stringify({
      dns: { listen: [`127.0.0.1:${dnsPort}`], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
      mqtt: { urls: dead }, http: { listen: `127.0.0.1:${httpPort}` }, db: join(dir, 'selector.db'), auth: { agents: 'off' },
      services: [{ name: SERVICE, sites: [{ id: 'a', address: '127.2.0.1' }] }], log: { level: 'warn' },
    }));
    const child = spawn(process.execPath, [join(process.cwd(), 'dist/selector/cli.js'), 'run', '--config', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      await waitForDns('127.0.0.1', dnsPort, 20_000, () => child.exitCode !== null);
      expect((await queryA('127.0.0.1', dnsPort, SERVICE)).addresses).toEqual(['127.2.0.1']);
      await new Promise((r) => setTimeout(r, 4000)); // several rounds of the URL list
      expect(child.exitCode).toBeNull();
      expect((await queryA('127.0.0.1', dnsPort, SERVICE)).addresses).toEqual(['127.2.0.1']);
      const metricsText = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metricsText).toMatch(/^vantage_selector_broker_connected 0$/m);
      expect(out).toMatch(/no broker reachable/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});

