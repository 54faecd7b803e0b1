// Feeds the ClientMapper: configured prefixes (they win on conflict) plus the
// prefixes and resolver addresses agents announce.
import type { Announce } from '../../shared/protocol.js';
import { formatAddress, parseAddress, parsePrefix } from '../../shared/prefix.js';
import type { ClientMapper } from '../dns/contract.js';

function normPrefix(text: string): string {
  const p = parsePrefix(text);
  return `${formatAddress(p.family, p.bytes)}/${p.length}`;
}

export class ClientMapFeeder {
  private readonly announced = new Map<string, { prefixes: string[]; resolvers: string[] }>();

  constructor(private readonly mapper: ClientMapper, private configured: readonly { agent: string; prefixes: readonly string[] }[]) {}

  /** Replaces the configured list (selector.yaml plus prefixes added through the admin API). */
  setConfigured(list: readonly { agent: string; prefixes: readonly string[] }[]): void {
    this.configured = list;
  }

  setAnnounce(agent: string, a: Pick<Announce, 'prefixes' | 'resolvers'>): void {
    this.announced.set(agent, { prefixes: [...a.prefixes], resolvers: [...a.resolvers] });
  }

  forget(agent: string): void {
    this.announced.delete(agent);
  }

  /** Pushes the merged maps into the mapper. */
  apply(): void {
    const { prefixes, resolvers } = this.merged();
    this.mapper.setPrefixes([...prefixes].map(([prefix, agent]) => ({ prefix, agent })));
    this.mapper.setResolvers([...resolvers].map(([address, agent]) => ({ address, agent })));
  }

  /** Prefixes and resolvers per agent exactly as the mapper gets them (an LB's uplink publishes these). */
  agentMap(): Map<string, { prefixes: string[]; resolvers: string[] }> {
    const { prefixes, resolvers } = this.merged();
    const out = new Map<string, { prefixes: string[]; resolvers: string[] }>();
    const entry = (agent: string) => {
      let e = out.get(agent);
      if (!e) out.set(agent, (e = { prefixes: [], resolvers: [] }));
      return e;
    };
    for (const [prefix, agent] of prefixes) entry(agent).prefixes.push(prefix);
    for (const [address, agent] of resolvers) entry(agent).resolvers.push(address);
    return out;
  }

  private merged(): { prefixes: Map<string, string>; resolvers: Map<string, string> } {
    const prefixes = new Map<string, string>();
    for (const [agent, a] of this.announced) for (const p of a.prefixes) prefixes.set(normPrefix(p), agent);
    for (const c of this.configured) for (const p of c.prefixes) prefixes.set(normPrefix(p), c.agent);
    const resolvers = new Map<string, string>();
    for (const [agent, a] of this.announced) {
      for (const r of a.resolvers) {
        const addr = parseAddress(r);
        resolvers.set(formatAddress(addr.family, addr.bytes), agent);
      }
    }
    return { prefixes, resolvers };
  }
}
