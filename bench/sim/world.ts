// World files (DESIGN.md "World scenarios"): POPs, sites, a path-latency matrix and
// timed events. Parsed once, here, into a frozen World; the rest of the simulator
// trusts it. Errors are one line naming the key (`events[2].site: unknown site "x"`).
import { z } from 'zod';
import { ConfigError } from '../../shared/errors.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { readConfigFile, validateConfig, zAddress, zPrefix } from '../../shared/config.js';

const siteId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'expected [A-Za-z0-9][A-Za-z0-9_.-]{0,62}');
const geo = z.tuple([z.number().min(-90).max(90), z.number().min(-180).max(180)]);
const seconds = z.number().finite().nonnegative();

export const EVENT_KINDS = ['slow', 'down', 'reset', 'load'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const EventSchema = z.strictObject({
  atS: seconds,
  /** End of the event (exclusive); default: the end of the world. */
  untilS: seconds.optional(),
  site: siteId,
  /** POPs affected; omitted means all. `load` is server-side and affects every POP. */
  pops: z.array(z.string()).min(1).optional(),
  kind: z.enum(EVENT_KINDS),
  extraMs: z.number().finite().positive().max(60_000).optional(),
});

export const WorldSchema = z.strictObject({
  name: z.string().min(1).max(64),
  description: z.string().max(2000).optional(),
  durationS: z.number().int().min(1).max(86_400),
  probeIntervalS: z.number().int().min(1).max(3600),
  service: z.string().min(1).max(253).regex(/^([a-z0-9-]+\.)+[a-z0-9-]+$/, 'expected a lower-case DNS name'),
  pops: z.array(z.strictObject({
    id: z.string().regex(AGENT_ID_RE, 'expected [a-z0-9][a-z0-9-]{0,62}'),
    address: zAddress,
    prefixes: z.array(zPrefix).min(1).max(64),
    geo,
  })).min(1).max(100),
  sites: z.array(z.strictObject({
    id: siteId, address: zAddress, geo,
    /** Share of all POPs' demand the site serves without queueing (load-feedback worlds; default 1). */
    capacityShare: z.number().finite().positive().max(1).optional(),
  })).min(1).max(100),
  /** Per-response jitter: each response's delay is multiplied by 1 ± up to jitterPct % (uniform). */
  jitterPct: z.number().finite().min(0).max(90).default(0),
  /**
   * `load-feedback`: a closed loop — a site's latency grows by msPerShare × (share − capacityShare)
   * when the share of POP-seconds Vantage sent it over the last windowS seconds exceeds its capacityShare.
   */
  kind: z.enum(['static', 'load-feedback']).default('static'),
  loadFeedback: z.strictObject({
    windowS: z.number().int().min(1).max(600).default(4),
    msPerShare: z.number().finite().positive().max(60_000),
  }).optional(),
  /**
   * Proxy-cache worlds (bench/sim/proxy-run.ts): each agent runs its `proxy:` section, the service is
   * `mode: proxy`, and simulated clients of each POP fetch through the proxy and directly from the steered site.
   */
  proxy: z.strictObject({
    /** Requests per POP per world second, through the proxy and (the same paths) directly. */
    requestsPerPopPerS: z.number().int().min(1).max(200).default(10),
    /** Cacheable objects (`/static/<n>`, `Cache-Control: max-age=maxAgeS`) the clients pick from. */
    objects: z.number().int().min(1).max(100_000).default(20),
    maxAgeS: z.number().int().min(1).max(86_400).default(30),
    /** Share of requests for uncacheable `/dynamic/<n>` (`no-store`: always forwarded). */
    dynamicPct: z.number().finite().min(0).max(100).default(20),
  }).optional(),
  latencyMs: z.record(z.string(), z.record(z.string(), z.number().finite().nonnegative().max(60_000))),
  events: z.array(EventSchema).max(10_000).default([]),
});

export type World = z.infer<typeof WorldSchema>;
export type WorldPop = World['pops'][number];
export type WorldSite = World['sites'][number];
export type WorldEvent = World['events'][number];

function checkUnique(items: readonly { id: string; address: string }[], what: 'pops' | 'sites'): void {
  const ids = new Set<string>();
  const addresses = new Set<string>();
  items.forEach((item, i) => {
    if (ids.has(item.id)) throw new ConfigError(`${what}[${i}].id`, `duplicate id "${item.id}"`);
    if (addresses.has(item.address)) throw new ConfigError(`${what}[${i}].address`, `duplicate address ${item.address}`);
    ids.add(item.id);
    addresses.add(item.address);
  });
}

function crossCheck(world: World): void {
  checkUnique(world.pops, 'pops');
  checkUnique(world.sites, 'sites');
  const popIds = new Set(world.pops.map((p) => p.id));
  const siteIds = new Set(world.sites.map((s) => s.id));
  for (const what of ['pops', 'sites'] as const) {
    world[what].forEach((item, i) => {
      // The simulation must never send traffic off the machine.
      if (!item.address.startsWith('127.')) throw new ConfigError(`${what}[${i}].address`, `${item.address} is not an IPv4 loopback address (127.0.0.0/8)`);
    });
  }
  for (const pop of world.pops) {
    const row = world.latencyMs[pop.id];
    if (!row) throw new ConfigError(`latencyMs.${pop.id}`, 'missing row for this POP');
    for (const site of world.sites) {
      if (row[site.id] === undefined) throw new ConfigError(`latencyMs.${pop.id}.${site.id}`, 'missing latency');
    }
    for (const key of Object.keys(row)) if (!siteIds.has(key)) throw new ConfigError(`latencyMs.${pop.id}.${key}`, 'unknown site');
  }
  for (const key of Object.keys(world.latencyMs)) if (!popIds.has(key)) throw new ConfigError(`latencyMs.${key}`, 'unknown POP');
  if (world.kind === 'load-feedback' && !world.loadFeedback) throw new ConfigError('loadFeedback', 'required for kind "load-feedback"');
  if (world.kind !== 'load-feedback' && world.loadFeedback) throw new ConfigError('loadFeedback', 'only for kind "load-feedback"');
  world.events.forEach((ev, i) => {
    const key = `events[${i}]`;
    if (!siteIds.has(ev.site)) throw new ConfigError(`${key}.site`, `unknown site "${ev.site}"`);
    ev.pops?.forEach((p, j) => {
      if (!popIds.has(p)) throw new ConfigError(`${key}.pops[${j}]`, `unknown POP "${p}"`);
    });
    if (ev.untilS !== undefined && ev.untilS <= ev.atS) throw new ConfigError(`${key}.untilS`, 'must be greater than atS');
    if (ev.atS >= world.durationS) throw new ConfigError(`${key}.atS`, `must be less than durationS (${world.durationS})`);
    const needsExtra = ev.kind === 'slow' || ev.kind === 'load';
    if (needsExtra && ev.extraMs === undefined) throw new ConfigError(`${key}.extraMs`, `required for kind "${ev.kind}"`);
    if (!needsExtra && ev.extraMs !== undefined) throw new ConfigError(`${key}.extraMs`, `not used by kind "${ev.kind}"`);
    if (ev.kind === 'load' && ev.pops) throw new ConfigError(`${key}.pops`, 'not allowed for kind "load" (server-side load affects every POP)');
  });
}

/** Validates a raw object into a frozen World; throws a one-line ConfigError. */
export function parseWorld(raw: unknown): Readonly<World> {
  const world = validateConfig(WorldSchema, raw);
  crossCheck(world);
  return world;
}

/** Reads a world file (JSON, or YAML) and validates it. */
export function loadWorld(path: string): Readonly<World> {
  return parseWorld(readConfigFile(path));
}

/** Great-circle distance in km (haversine), for the geo baseline. */
export function distanceKm(a: readonly [number, number], b: readonly [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
