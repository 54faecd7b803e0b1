// The LB side of federation: one mqtt.js client of the backbone's broker. On every
// (re)connect it publishes, retained, its status (the last will says offline), its map
// and — with `push` — its rankings; afterwards the map and rankings go out again on
// every change (debounced) and the rankings at least every `intervalS`, which is the
// backbone's freshness clock. With `catalogue` it takes the backbone's retained
// catalogue. DNS never waits for this link: start() returns before the first connect.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../shared/log.js';
import { CATALOGUE_TOPIC, parseCatalogue, type Catalogue } from '../../shared/protocol.js';
import { ProtocolError } from '../../shared/errors.js';
import { countRejections, type SettingRejection, type SettingRejectReason } from '../../shared/catalogue-settings.js';
import { lbTopic } from '../../shared/lb-protocol.js';
import type { WireAnswerTable } from '../dns/answer-table.js';
import type { UplinkConfig } from './config.js';
import { buildLbMap, buildLbRankings, buildLbStatus, type AgentMap } from './payloads.js';

export interface UplinkOptions {
  config: UplinkConfig;
  /** The DNS answer table (read only) and the service names the ranking engine writes. */
  table: WireAnswerTable;
  services: () => readonly string[];
  agents: () => AgentMap;
  /** A valid catalogue from the backbone (only with `catalogue: true`). */
  onCatalogue?: (cat: Catalogue) => void;
  log: Logger;
}

export interface UplinkCounters {
  connects: number;
  mapsPublished: number;
  rankingsPublished: number;
  cataloguesReceived: number;
  cataloguesRejected: number;
  /** Catalogue answer settings dropped as invalid, by setting (shared/catalogue-settings.ts). */
  settingsRejected: Partial<Record<SettingRejectReason, number>>;
  publishErrors: number;
}

export function createUplink(opts: UplinkOptions) {
  const { config: cfg, log } = opts;
  const counters: UplinkCounters = { connects: 0, mapsPublished: 0, rankingsPublished: 0, cataloguesReceived: 0, cataloguesRejected: 0, settingsRejected: {}, publishErrors: 0 };
  let client: MqttClient | undefined;
  let seq = 0;
  let lastMap = '';
  let debounce: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let closing = false;

  const publish = (topic: string, payload: object): void => {
    const c = client;
    if (!c?.connected) return;
    c.publish(topic, JSON.stringify(payload), { qos: 1, retain: true }, (err) => {
      if (!err) return;
      counters.publishErrors++;
      log.warn({ err: err.message, topic }, 'uplink publish failed');
    });
  };

  function publishMap(force: boolean): void {
    const map = buildLbMap(cfg, opts.agents(), Date.now());
    const key = JSON.stringify({ ...map, ts: 0 });
    if (!force && key === lastMap) return;
    lastMap = key;
    counters.mapsPublished++;
    publish(lbTopic(cfg.id, 'map'), map);
  }

  function publishRankings(): void {
    if (!cfg.push) return;
    counters.rankingsPublished++;
    publish(lbTopic(cfg.id, 'rankings'), buildLbRankings(cfg, opts.services(), opts.table, opts.agents(), ++seq, Date.now()));
  }

  function flush(): void {
    debounce = undefined;
    if (!client?.connected) return;
    publishMap(false);
    publishRankings();
    armHeartbeat();
  }

  function armHeartbeat(): void {
    if (heartbeat) clearTimeout(heartbeat);
    heartbeat = setTimeout(flush, cfg.intervalS * 1000).unref();
  }

  function onConnect(c: MqttClient): void {
    counters.connects++;
    log.info({ url: cfg.url, lb: cfg.id }, 'uplink connected to the backbone');
    publish(lbTopic(cfg.id, 'status'), buildLbStatus(cfg, 'online', Date.now()));
    publishMap(true);
    publishRankings();
    armHeartbeat();
    if (cfg.catalogue) c.subscribe(CATALOGUE_TOPIC, { qos: 1 }, (err) => err && log.error({ err }, 'uplink catalogue subscribe failed'));
  }

  function onMessage(topic: string, payload: Buffer): void {
    if (topic !== CATALOGUE_TOPIC || payload.length === 0) return;
    try {
      const cat = parseCatalogue(payload);
      counters.cataloguesReceived++;
      opts.onCatalogue?.(cat);
    } catch (err) {
      counters.cataloguesRejected++;
      if (err instanceof ProtocolError) log.warn({ reason: err.reason, err: err.message }, 'backbone catalogue rejected');
      else log.error({ err }, 'backbone catalogue could not be applied');
    }
  }

  return {
    counters,
    /** Connects in the background; the LB serves DNS whether or not the backbone is reachable. */
    start(): void {
      closing = false;
      const c = mqtt.connect(cfg.url, {
        clientId: `vantage-lb-${cfg.id}-${randomBytes(3).toString('hex')}`,
        // An LB enrolled with `lbs add ID` on the backbone logs in as lb.{id}.
        username: cfg.username ?? (cfg.password ? `lb.${cfg.id}` : undefined),
        password: cfg.password,
        ca: cfg.ca ? readFileSync(cfg.ca) : undefined,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        // The broker publishes the last will 1.5 keepalives after an LB stops answering (MQTT
        // 3.1.1 §3.1.2.10): 15 s → refer mode stops referring to a cut-off LB within ~23 s.
        keepalive: 15,
        // DESIGN.md: the status topic carries online/offline with a last will, like an agent's.
        will: { topic: lbTopic(cfg.id, 'status'), payload: Buffer.from(JSON.stringify(buildLbStatus(cfg, 'offline', Date.now()))), qos: 1, retain: true },
      });
      client = c;
      c.on('connect', () => onConnect(c));
      c.on('message', onMessage);
      c.on('error', (err) => log.warn({ err: err.message }, 'uplink MQTT error'));
      c.on('close', () => { if (!closing) log.debug('uplink connection closed'); });
    },
    /** Answers or the client map changed: publish after `debounceMs` (one message per burst). */
    changed(): void {
      if (debounce || closing) return;
      debounce = setTimeout(flush, cfg.debounceMs);
      debounce.unref();
    },
    /** Invalid settings of an applied catalogue: counted by setting and logged (the rest was applied). */
    settingsRejected(rejected: readonly SettingRejection[]): void {
      countRejections(counters.settingsRejected, rejected);
      log.warn({ rejected: rejected.slice(0, 10).map((r) => r.message), count: rejected.length }, 'backbone catalogue settings rejected');
    },
    connected: () => client?.connected === true,
    seq: () => seq,
    /** Says offline (retained) and disconnects: a planned stop is not a failure. */
    async close(): Promise<void> {
      closing = true;
      if (debounce) clearTimeout(debounce);
      if (heartbeat) clearTimeout(heartbeat);
      debounce = heartbeat = undefined;
      const c = client;
      client = undefined;
      if (!c) return;
      if (c.connected) {
        await new Promise<void>((resolve) => {
          c.publish(lbTopic(cfg.id, 'status'), JSON.stringify(buildLbStatus(cfg, 'offline', Date.now())), { qos: 1, retain: true }, () => resolve());
          setTimeout(resolve, 1000).unref();
        });
      }
      await c.endAsync(true).catch(() => undefined);
    },
  };
}

export type Uplink = ReturnType<typeof createUplink>;
