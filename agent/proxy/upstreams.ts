// Which site the proxy forwards to: the agent's own latest probe rounds, folded per
// (service, site) like the selector does (down after 2 failed probes, up after 2
// successes, median totalMs of the last successes, a 10 % / 2 ms hysteresis on the
// first place), plus passive feedback: a site whose connection just failed under a
// proxied request sinks below the others until its next successful probe. The order
// is recomputed when a result arrives, never per request.
import type { Catalogue, CatalogueService, ProbeSpec, Result } from '../../shared/protocol.js';

export interface UpstreamSite {
  service: string;
  id: string;
  address: string;
  scheme: ProbeSpec['scheme'];
  port: number;
  /** Host header and TLS SNI (the probe's host, else the service name). */
  host: string;
}

interface SiteState {
  site: UpstreamSite;
  drained: boolean;
  /** Last successful totalMs values, oldest first. */
  okMs: number[];
  failStreak: number;
  okStreak: number;
  down: boolean;
  /** Passive failure (a proxied request could not connect) not yet cleared by a probe. */
  passiveFail: boolean;
}

const KEEP = 5;
const DOWN_AFTER = 2;
const UP_AFTER = 2;
const HYSTERESIS_PCT = 10;
const HYSTERESIS_MS = 2;

function median(xs: number[]): number {
  if (xs.length === 0) return Number.POSITIVE_INFINITY;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export class Upstreams {
  /** service → site id → state, in catalogue order. */
  private readonly states = new Map<string, Map<string, SiteState>>();
  private readonly orders = new Map<string, UpstreamSite[]>();
  private readonly first = new Map<string, string>();

  constructor(private readonly served: ReadonlySet<string>) {}

  setCatalogue(catalogue: Catalogue): void {
    const seen = new Set<string>();
    for (const svc of catalogue.services) {
      const name = svc.name.toLowerCase();
      if (!this.served.has(name)) continue;
      seen.add(name);
      this.states.set(name, this.merge(name, svc));
      this.reorder(name);
    }
    for (const name of [...this.states.keys()]) {
      if (!seen.has(name)) { this.states.delete(name); this.orders.delete(name); this.first.delete(name); }
    }
  }

  private merge(name: string, svc: CatalogueService): Map<string, SiteState> {
    const old = this.states.get(name);
    const next = new Map<string, SiteState>();
    for (const s of svc.sites) {
      const site: UpstreamSite = {
        service: name, id: s.id, address: s.address, scheme: svc.probe.scheme, port: svc.probe.port, host: svc.probe.host ?? name,
      };
      const prev = old?.get(s.id);
      const same = prev && prev.site.address === site.address && prev.site.port === site.port && prev.site.scheme === site.scheme && prev.site.host === site.host;
      next.set(s.id, same ? { ...prev, site: prev.site, drained: s.drained === true }
        : { site, drained: s.drained === true, okMs: [], failStreak: 0, okStreak: 0, down: false, passiveFail: false });
    }
    return next;
  }

  /** Feeds one probe result of this agent. */
  observe(r: Result): void {
    const name = r.service.toLowerCase();
    const st = this.states.get(name)?.get(r.site);
    if (!st || st.site.address !== r.address) return;
    if (r.ok) {
      st.okMs.push(r.totalMs ?? 0);
      if (st.okMs.length > KEEP) st.okMs.shift();
      st.okStreak++;
      st.failStreak = 0;
      if (st.down && st.okStreak >= UP_AFTER) st.down = false;
      st.passiveFail = false;
    } else {
      st.failStreak++;
      st.okStreak = 0;
      if (st.failStreak >= DOWN_AFTER) st.down = true;
    }
    this.reorder(name);
  }

  /** A proxied request could not reach `site`: prefer the others until the next good probe. */
  reportFailure(site: UpstreamSite): void {
    const st = this.states.get(site.service)?.get(site.id);
    if (!st || st.passiveFail) return;
    st.passiveFail = true;
    this.reorder(site.service);
  }

  /** Sites best first: usable ones, then (fail-open) the rest. Empty for unknown services. */
  order(service: string): readonly UpstreamSite[] {
    return this.orders.get(service) ?? [];
  }

  /** True when the service has at least one site this agent measures as up. */
  usable(service: string): boolean {
    const states = this.states.get(service);
    if (!states) return false;
    for (const st of states.values()) if (!st.down && !st.drained && st.okMs.length > 0) return true;
    return false;
  }

  services(): string[] {
    return [...this.served];
  }

  private reorder(name: string): void {
    const states = [...(this.states.get(name)?.values() ?? [])];
    const tier = (s: SiteState): number => (s.drained ? 3 : s.down ? 2 : s.passiveFail ? 1 : 0);
    const ranked = states
      .map((s, i) => ({ s, i, tier: tier(s), ms: median(s.okMs) }))
      .sort((a, b) => a.tier - b.tier || a.ms - b.ms || a.i - b.i);
    // Hysteresis: the current first keeps its place unless the challenger is clearly better.
    const incumbent = this.first.get(name);
    const top = ranked[0];
    const cur = ranked.find((x) => x.s.site.id === incumbent);
    if (top && cur && cur !== top && cur.tier === top.tier) {
      const gain = cur.ms - top.ms;
      if (!(gain > HYSTERESIS_MS && gain > (cur.ms * HYSTERESIS_PCT) / 100)) {
        ranked.splice(ranked.indexOf(cur), 1);
        ranked.unshift(cur);
      }
    }
    const order = ranked.map((x) => x.s.site);
    this.orders.set(name, order);
    if (order[0]) this.first.set(name, order[0].id);
  }
}
