// Proxy-cache mode (DESIGN.md, seed ¶0051), selector side: for a service with
// `mode: proxy`, an agent's answer is the address(es) of that agent's proxy — when the
// agent announces a proxy serving the service and its last status says the proxy is
// healthy for it — and the agent's ranked sites otherwise. It sits between the
// RankEngine and the answer table (a decorator of AnswerTable), so the ranking code
// is unchanged: the engine writes ranked sites, this class writes what DNS should say.
// Stale and offline agents need nothing here: the client mapper skips them and the
// default answer (the aggregate of fresh agents' sites) is never a proxy.
import { isIP } from 'node:net';
import { DEFAULT_KEY, type AnswerTable } from '../dns/contract.js';

export interface ProxyAnnounce { addresses: readonly string[]; services: readonly string[] }
export interface ProxyStatus { healthy: boolean; down: readonly string[] }

/** Why an agent's answer for a proxy-mode service is the proxy or the sites (for explain). */
export interface ProxyDecision {
  answer: 'proxy' | 'sites';
  reason: string;
  proxyAddresses: string[];
}

export class ProxyAnswers implements AnswerTable {
  /** service → key → the engine's ranked addresses and their TTL override (unsettled answers). */
  private readonly ranked = new Map<string, Map<string, { addresses: readonly string[]; ttl?: number }>>();
  private readonly announced = new Map<string, ProxyAnnounce>();
  private readonly status = new Map<string, ProxyStatus>();

  constructor(private readonly inner: AnswerTable, private proxyServices: ReadonlySet<string>) {}

  /** Replaces the set of `mode: proxy` services (lower case); applied at the next RankEngine.setServices. */
  setProxyServices(names: ReadonlySet<string>): void {
    this.proxyServices = names;
    for (const name of [...this.ranked.keys()]) if (!names.has(name)) this.ranked.delete(name);
  }

  setService(name: string, ttl: number): void {
    this.inner.setService(name, ttl);
  }

  removeService(name: string): void {
    this.ranked.delete(name.toLowerCase());
    this.inner.removeService(name);
  }

  setAnswer(name: string, key: string, addresses: readonly string[], ttl?: number): void {
    const service = name.toLowerCase();
    if (this.proxyServices.has(service)) {
      let byKey = this.ranked.get(service);
      if (!byKey) this.ranked.set(service, (byKey = new Map()));
      byKey.set(key, { addresses: [...addresses], ttl });
    }
    this.inner.setAnswer(name, key, this.final(service, key, addresses), ttl);
  }

  retainKeys(name: string, keys: ReadonlySet<string>): void {
    const byKey = this.ranked.get(name.toLowerCase());
    if (byKey) for (const k of [...byKey.keys()]) if (k !== DEFAULT_KEY && !keys.has(k)) byKey.delete(k);
    this.inner.retainKeys(name, keys);
  }

  getAnswer(name: string, key: string): ReturnType<AnswerTable['getAnswer']> {
    return this.inner.getAnswer(name, key);
  }

  isUniform(name: string): boolean {
    return this.inner.isUniform(name);
  }

  services(): string[] {
    return this.inner.services();
  }

  countQueries(name: string, on: boolean): void {
    this.inner.countQueries?.(name, on);
  }

  queryCounts(name: string): ReadonlyMap<string, number> {
    return this.inner.queryCounts?.(name) ?? new Map();
  }

  /** From the agent's announce (undefined: it has no proxy). */
  setAnnounce(agent: string, proxy: ProxyAnnounce | undefined): void {
    const before = JSON.stringify(this.announced.get(agent));
    if (proxy) this.announced.set(agent, { addresses: [...proxy.addresses], services: proxy.services.map((s) => s.toLowerCase()) });
    else this.announced.delete(agent);
    if (JSON.stringify(this.announced.get(agent)) !== before) this.refresh(agent);
  }

  /** From the agent's status; an offline status (its last will) forgets the proxy's health. */
  setStatus(agent: string, state: 'online' | 'offline', proxy: ProxyStatus | undefined): void {
    const before = JSON.stringify(this.status.get(agent));
    if (state === 'online' && proxy) this.status.set(agent, { healthy: proxy.healthy, down: proxy.down.map((s) => s.toLowerCase()) });
    else this.status.delete(agent);
    if (JSON.stringify(this.status.get(agent)) !== before) this.refresh(agent);
  }

  decision(service: string, key: string): ProxyDecision | undefined {
    const name = service.toLowerCase();
    if (!this.proxyServices.has(name)) return undefined;
    if (key === DEFAULT_KEY) return { answer: 'sites', reason: 'no agent mapped (or it is stale/offline): the default answer is always sites', proxyAddresses: [] };
    const ann = this.announced.get(key);
    const addrs = ann ? [...ann.addresses] : [];
    if (!ann) return { answer: 'sites', reason: `agent ${key} announces no proxy`, proxyAddresses: addrs };
    if (!ann.services.includes(name)) return { answer: 'sites', reason: `agent ${key}'s proxy does not serve ${name}`, proxyAddresses: addrs };
    const st = this.status.get(key);
    if (!st) return { answer: 'sites', reason: `agent ${key} has reported no proxy health yet`, proxyAddresses: addrs };
    if (!st.healthy) return { answer: 'sites', reason: `agent ${key} reports its proxy unhealthy`, proxyAddresses: addrs };
    if (st.down.includes(name)) return { answer: 'sites', reason: `agent ${key}'s proxy measures no site of ${name} up`, proxyAddresses: addrs };
    return { answer: 'proxy', reason: `agent ${key}'s proxy serves ${name} and reports healthy`, proxyAddresses: addrs };
  }

  /** Proxy addresses, plus the ranked sites of any family the proxy has no address in (never NODATA for it). */
  private final(service: string, key: string, ranked: readonly string[]): readonly string[] {
    const d = this.decision(service, key);
    if (!d || d.answer === 'sites') return ranked;
    const families = new Set(d.proxyAddresses.map((a) => isIP(a)));
    return [...d.proxyAddresses, ...ranked.filter((a) => !families.has(isIP(a)))];
  }

  private refresh(agent: string): void {
    for (const [service, byKey] of this.ranked) {
      const ranked = byKey.get(agent);
      if (ranked) this.inner.setAnswer(service, agent, this.final(service, agent, ranked.addresses), ranked.ttl);
    }
  }
}
