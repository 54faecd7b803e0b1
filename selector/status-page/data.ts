// JSON behind the status page (`/api/status`): per service, a row per agent (plus the
// default aggregate) with each site's median latency and state from that agent's
// current ranking, and the agent's first choice — what its POP's clients get first.
import { DEFAULT_KEY } from '../contracts.js';
import type { RankEngine } from '../rank-engine.js';
import type { AgentView } from '../admin/agents-view.js';

export interface StatusCell { medianMs: number | null; state: string; samples: number; failureShare: number | null }
export interface StatusRow {
  agent: string;
  pop: string | null;
  state: string;
  dataAgeS: number | null;
  first: string | null;
  order: string[];
  cells: Record<string, StatusCell>;
}
export interface StatusService { name: string; policy: string; sites: { id: string; address: string; drained: boolean }[]; rows: StatusRow[] }
export interface StatusData { ts: number; services: StatusService[]; agents: AgentView[] }

export function statusData(engine: RankEngine, agents: readonly AgentView[], nowMs: number): StatusData {
  const services = engine.serviceList().map((svc) => {
    const rows: StatusRow[] = [];
    const keys: { key: string; view?: AgentView }[] = [...agents.map((a) => ({ key: a.id, view: a })), { key: DEFAULT_KEY }];
    for (const { key, view } of keys) {
      const r = engine.explain(svc.name, key);
      if (!r && key !== DEFAULT_KEY) continue;
      const cells: Record<string, StatusCell> = {};
      for (const s of r?.explanation.sites ?? []) cells[s.id] = { medianMs: s.medianMs, state: s.state, samples: s.samples, failureShare: s.failureShare };
      rows.push({
        agent: key === DEFAULT_KEY ? 'default' : key, pop: view ? view.pop : 'aggregate of online agents',
        state: view ? view.state : 'online', dataAgeS: view ? view.dataAgeS : null,
        first: r?.order[0] ?? null, order: r?.order ?? [], cells,
      });
    }
    return { name: svc.name, policy: svc.policy, sites: svc.sites.map((s) => ({ id: s.id, address: s.address, drained: s.drained })), rows };
  });
  return { ts: nowMs, services, agents: [...agents] };
}
