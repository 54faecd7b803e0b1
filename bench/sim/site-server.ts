// Simulated sites: one HTTP server per site address, all on one common port (the
// service's probe port). Each request is judged by its source address — agents bind
// their probes to their POP's address — against the latency matrix and the events in
// force on the world clock:
// - latency (matrix + slow/load extras): the response is held back that long;
// - `down`: a listening socket cannot refuse per source address, so the connection is
//   accepted and immediately reset (RST via socket.resetAndDestroy()); agents see a
//   connection reset before any response (error class `reset`, or `refused` if their
//   classifier maps a reset-before-response that way);
// - `reset`: headers and part of the body are sent, then the socket is reset (RST),
//   so agents see a reset mid-response;
// - `jitterPct`: each response's delay is multiplied by 1 ± up to jitterPct % (uniform);
// - load feedback: `extraMs(site)` (bench/sim/load-feedback.ts) is added to every delay;
// - proxy worlds: `/static/…` responses carry `Cache-Control: public, max-age`, others `no-store`.
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pathState } from './conditions.js';
import type { WorldClock } from './clock.js';
import type { World, WorldSite } from './world.js';

const BODY = Buffer.from('<!doctype html><title>vantage sim</title><p>simulated site</p>\n'.repeat(16));
const PARTIAL_BYTES = 256;
const RESET_AFTER_MS = 10;

export interface SiteServers {
  /** The common port every site listens on. */
  readonly port: number;
  /** Requests served per `${popId}/${siteId}` and outcome, for the report. */
  counts(): ReadonlyMap<string, { ok: number; down: number; reset: number }>;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Proxy worlds: `/static/…` is cacheable for proxy.maxAgeS, anything else `no-store`; other worlds send none. */
function cacheHeaders(world: World, url: string | undefined): Record<string, string> {
  if (!world.proxy) return {};
  return { 'cache-control': url?.startsWith('/static/') ? `public, max-age=${world.proxy.maxAgeS}` : 'no-store' };
}

/** Starts one server per site on a common free port (retrying if a port is taken). */
export async function startSiteServers(world: World, clock: WorldClock, extraMs?: (site: string) => number): Promise<SiteServers> {
  const jitter = world.jitterPct / 100;
  const delayOf = (site: WorldSite, latencyMs: number): number =>
    (latencyMs + (extraMs?.(site.id) ?? 0)) * (jitter ? 1 + jitter * (Math.random() * 2 - 1) : 1);
  const popByAddress = new Map(world.pops.map((p) => [p.address, p.id]));
  const counts = new Map<string, { ok: number; down: number; reset: number }>();
  const timers = new Set<NodeJS.Timeout>();
  const bump = (key: string, what: 'ok' | 'down' | 'reset'): void => {
    const c = counts.get(key) ?? { ok: 0, down: 0, reset: 0 };
    c[what]++;
    counts.set(key, c);
  };
  const stateFor = (site: WorldSite, socket: Socket) => {
    const pop = popByAddress.get(socket.remoteAddress?.replace(/^::ffff:/, '') ?? '');
    return { pop, state: pop ? pathState(world, pop, site.id, clock.nowS()) : undefined };
  };

  const makeServer = (site: WorldSite): Server => {
    const server = createServer({ keepAliveTimeout: 1000 }, (req: IncomingMessage, res: ServerResponse) => {
      const { pop, state } = stateFor(site, req.socket);
      const key = `${pop ?? 'other'}/${site.id}`;
      // Checked per request too, in case a client keeps a connection alive into a `down`.
      if (state?.failure === 'down') {
        bump(key, 'down');
        req.socket.resetAndDestroy();
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (res.destroyed) return;
        if (state?.failure === 'reset') {
          bump(key, 'reset');
          res.writeHead(200, { 'content-type': 'text/html', 'content-length': BODY.length });
          // Reset a moment after the partial body is out: a reset issued in the write
          // callback itself went out as a plain FIN on Linux in our trials.
          res.write(BODY.subarray(0, PARTIAL_BYTES), () => {
            const later = setTimeout(() => {
              timers.delete(later);
              req.socket.resetAndDestroy();
            }, RESET_AFTER_MS);
            timers.add(later);
          });
          return;
        }
        bump(key, 'ok');
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': BODY.length, 'x-vantage-site': site.id, ...cacheHeaders(world, req.url) });
        res.end(BODY);
      }, delayOf(site, state?.latencyMs ?? 0));
      timers.add(timer);
    });
    server.on('connection', (socket: Socket) => {
      const { pop, state } = stateFor(site, socket);
      if (state?.failure === 'down') {
        bump(`${pop}/${site.id}`, 'down');
        socket.resetAndDestroy();
      }
    });
    // A reset we caused ourselves surfaces as a client error on our side: ignore it.
    server.on('clientError', (_err, socket) => socket.destroy());
    return server;
  };

  for (let attempt = 0; ; attempt++) {
    const servers: Server[] = [];
    try {
      let port = 0;
      for (const site of world.sites) {
        const server = makeServer(site);
        servers.push(server);
        port = await listen(server, site.address, port);
      }
      return {
        port,
        counts: () => counts,
        close: async () => {
          for (const t of timers) clearTimeout(t);
          timers.clear();
          await Promise.all(servers.map(closeServer));
        },
      };
    } catch (err) {
      await Promise.all(servers.filter((s) => s.listening).map(closeServer));
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}
