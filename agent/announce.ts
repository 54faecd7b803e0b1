// The agent's retained announce payload: who it is, where its probes come from,
// which client prefixes sit behind its POP and which resolvers its ISP runs. The
// selector uses prefixes (longest-prefix match) and resolvers (source address match)
// to map DNS queries to this agent.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Announce } from '../shared/protocol.js';
import { isAddress, parsePrefix } from '../shared/prefix.js';
import type { AgentConfig } from './config.js';

export interface HostFacts {
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  resolvConf: string;
}

export function readHostFacts(resolvConfPath = '/etc/resolv.conf'): HostFacts {
  let resolvConf = '';
  try {
    resolvConf = readFileSync(resolvConfPath, 'utf8');
  } catch {
    // No resolv.conf (containers): no resolvers to announce.
  }
  return { interfaces: os.networkInterfaces(), resolvConf };
}

/** `nameserver` lines of resolv.conf(5); scoped IPv6 (`%eth0`) lose their zone. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = (m[1] as string).replace(/%.*$/, '');
    if (isAddress(addr) && !out.includes(addr)) out.push(addr);
  }
  return out;
}

function usable(facts: HostFacts): os.NetworkInterfaceInfo[] {
  const all = Object.values(facts.interfaces).flatMap((list) => list ?? []);
  // Link-local addresses are not reachable from elsewhere and say nothing about clients.
  const external = all.filter((i) => !i.internal && !i.address.toLowerCase().startsWith('fe80:') && !i.address.startsWith('169.254.'));
  // A loopback-only box (tests, labs) still announces something.
  return external.length > 0 ? external : all.filter((i) => !i.address.toLowerCase().startsWith('fe80:'));
}

function cidrToNetwork(cidr: string): string | undefined {
  try {
    return parsePrefix(cidr.replace(/%[^/]*/, '')).text; // host bits cleared: the network
  } catch {
    return undefined;
  }
}

/** The families this POP probes (config.families, else those of the bind addresses, else of the interfaces). */
export function probeFamilies(config: Readonly<AgentConfig>, facts: HostFacts): (4 | 6)[] {
  if (config.families) return [...new Set(config.families)].sort();
  const from = [config.bindAddress, config.bindAddress6].filter((a): a is string => a !== undefined);
  const addrs = from.length ? from : usable(facts).map((i) => i.address);
  const fams = new Set(addrs.map((a): 4 | 6 => (a.includes(':') ? 6 : 4)));
  return fams.size ? [...fams].sort() : [4];
}

export function buildAnnounce(config: Readonly<AgentConfig>, facts: HostFacts, now = Date.now(), proxy?: Announce['proxy']): Announce {
  const ifaces = usable(facts);
  const bound = [config.bindAddress, config.bindAddress6].filter((a): a is string => a !== undefined);
  const addresses = bound.length ? bound : [...new Set(ifaces.map((i) => i.address.replace(/%.*$/, '')))];
  const prefixes = config.prefixes
    ? [...config.prefixes]
    : [...new Set(ifaces.map((i) => (i.cidr ? cidrToNetwork(i.cidr) : undefined)).filter((p): p is string => p !== undefined))];
  const resolvers = config.resolvers === 'auto' ? parseResolvConf(facts.resolvConf) : [...config.resolvers];
  return {
    v: 1,
    agent: config.id,
    pop: config.pop ?? config.id,
    addresses: addresses.slice(0, 256),
    prefixes: prefixes.slice(0, 4096),
    resolvers: resolvers.slice(0, 64),
    families: probeFamilies(config, facts),
    ts: now,
    ...(proxy ? { proxy } : {}),
  };
}
