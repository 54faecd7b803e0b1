// Used by the tests (test/helpers/nats.ts) and bench/failover.ts.
// Starts a real NATS cluster (Debian `nats-server` 2.9) on loopback: N nodes with
// routes between them, JetStream, and an MQTT listener on each (MQTT in NATS needs
// server_name and JetStream). `authorization` is the text of an authorization block
// (users with permissions), as systemd/nats-vantage.conf ships it; none = anonymous.
// Each node can be stopped (SIGKILL: a crash) and started again on the same ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { pickPort } from './free-port.js';

async function waitForTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, host, () => { sock.destroy(); resolve(true); });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${host}:${port} within ${timeoutMs} ms`);
}

export interface NatsNode {
  name: string;
  mqttUrl: string;
  mqttPort: number;
  running(): boolean;
  /** GET /healthz of the node's monitoring port: true when it and its JetStream assets are current. */
  healthy(): Promise<boolean>;
  /** The /healthz body, for error messages. */
  health(): Promise<string>;
  /** SIGKILL (a crash); the other nodes keep the cluster. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface NatsCluster {
  nodes: NatsNode[];
  mqttUrls: string[];
  dir: string;
  /** Waits until every running node reports healthy (JetStream caught up after a restart). */
  waitHealthy(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  nodes?: number;
  host?: string;
  authorization?: string;
  /** A user (name, password) able to connect over MQTT, for the readiness check. */
  probeUser?: { username: string; password: string };
  /** Extra lines inside each node's `mqtt { }` block (experiments: stream_replicas, consumer_replicas...). */
  mqttExtra?: string;
  /** Every line a node writes to stderr (its log), as it arrives: bench:failover --trace. */
  onLog?: (node: string, line: string) => void;
}

/** A loopback address of its own for each cluster (127.9.x.y): the ports it picks are free
 * there between the pick and nats-server's bind, whatever other tests do on 127.0.0.1
 * (a CI run once lost a port to another process in that window). */
function clusterHost(): string {
  return `127.9.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
}

const ADDRESS_IN_USE = /address already in use/i;

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  // A port taken between the pick and the bind (EADDRINUSE) is a lost race, not a failure of
  // the cluster: start again on new ports (and, by default, a new address).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !ADDRESS_IN_USE.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(opts: NatsClusterOptions): Promise<NatsCluster> {
  const n = opts.nodes ?? 3;
  const host = opts.host ?? clusterHost();
  const dir = mkdtempSync(join(tmpdir(), 'vantage-nats-'));
  const ports = [];
  for (let i = 0; i < n; i++) ports.push({ client: await pickPort(host), route: await pickPort(host), mqtt: await pickPort(host), monitor: await pickPort(host) });
  const routes = ports.map((p) => `nats-route://${host}:${p.route}`).join(', ');
  const nodes: NatsNode[] = ports.map((p, i) => {
    const name = `n${i + 1}`;
    const conf = join(dir, `${name}.conf`);
    mkdirSync(join(dir, name));
    writeFileSync(conf, [
      `server_name: ${name}`,
      `listen: ${host}:${p.client}`,
      `http: ${host}:${p.monitor}`,
      `jetstream { store_dir: "${join(dir, name)}", max_memory_store: 64MB, max_file_store: 256MB }`,
      `cluster { name: vantage-test, listen: ${host}:${p.route}, routes: [${routes}] }`,
      `mqtt { listen: ${host}:${p.mqtt}, ack_wait: "5s"${opts.mqttExtra ? `, ${opts.mqttExtra}` : ''} }`,
      'max_payload: 4MB',
      opts.authorization ?? '',
    ].join('\n') + '\n');
    let child: ChildProcess | undefined;
    let log = '';
    const node: NatsNode = {
      name,
      mqttPort: p.mqtt,
      mqttUrl: `mqtt://${host}:${p.mqtt}`,
      running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      async health() {
        return fetch(`http://${host}:${p.monitor}/healthz`).then((r) => r.text(), (err: Error) => err.message);
      },
      async healthy() {
        try {
          const res = await fetch(`http://${host}:${p.monitor}/healthz`);
          return res.status === 200;
        } catch {
          return false;
        }
      },
      async start() {
        log = '';
        child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
        let partial = '';
        child.stderr?.on('data', (d: Buffer) => {
          log = (log + d.toString()).slice(-20_000);
          if (!opts.onLog) return;
          const lines = (partial + d.toString()).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) opts.onLog(name, line);
        });
        try {
          await waitForTcp(host, p.mqtt, 15_000);
        } catch (err) {
          child.kill('SIGKILL');
          throw new Error(`nats-server ${name} did not start: ${log.trim().split('\n').slice(-3).join(' | ') || (err as Error).message}`);
        }
      },
      async kill() {
        const c = child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
        c.kill('SIGKILL');
        await exited;
      },
    };
    return node;
  });
  const started = await Promise.allSettled(nodes.map((x) => x.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const x of nodes) await x.kill();
    rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }
  // Ready when every node accepts an MQTT session: that needs the JetStream meta leader
  // (elected over the routes) and the MQTT streams created.
  for (const node of nodes) await waitForMqtt(node.mqttUrl, opts.probeUser, 30_000);
  const waitHealthy = async (timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(nodes.filter((x) => x.running()).map((x) => x.healthy()));
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) {
        const why = await Promise.all(nodes.filter((x) => x.running()).map(async (x) => `${x.name}: ${await x.health()}`));
        throw new Error(`NATS cluster not healthy within ${timeoutMs} ms (${why.join('; ')})`);
      }
      await sleep(200);
    }
  };
  await waitHealthy(30_000);
  return {
    nodes,
    mqttUrls: nodes.map((x) => x.mqttUrl),
    dir,
    waitHealthy,
    async stop() {
      for (const x of nodes) await x.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until an MQTT client can connect and subscribe with QoS 1 at `url`. */
export async function waitForMqtt(url: string, user: { username: string; password: string } | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const c = await mqtt.connectAsync(url, { ...user, reconnectPeriod: 0, connectTimeout: 3000 }, false);
      try {
        await c.subscribeAsync('vantage/v1/config/services', { qos: 1 });
        return;
      } finally {
        await c.endAsync(true);
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`no MQTT session at ${url} within ${timeoutMs} ms: ${last}`);
}
