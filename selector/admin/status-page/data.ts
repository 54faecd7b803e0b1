// JSON behind the status page (`/api/status`): per service, a row per agent (plus the
// default aggregate) with each site's median latency and state from that agent's
// current ranking, and the agent's first choice — what its POP's clients get first.
import { DEFAULT_KEY } from '../../dns/contract.js';
import type { RankEngine } from '../../ranking/engine.js';
import type { AgentView } from '../agents-view.js';

export interface StatusCell { medianMs: number | null; state: string; samples: number; failureShare: number | null }
export interface StatusRow {
  agent: string;
  pop: string | null;
  state: string;
  dataAgeS: number | null;
  /** What this POP's clients get first now: the agent's own first choice, or the default's when it is not online. */
  first: string | null;
  firstVia: 'agent' | 'default';
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
        first: r?.order[0] ?? null, firstVia: view && view.state !== 'online' ? 'default' : 'agent', order: r?.order ?? [], cells,
      });
    }
    // DESIGN.md: a stale or offline agent's clients get the default answer.
    const fallback = rows.find((r) => r.agent === 'default')?.first ?? null;
    for (const r of rows) if (r.firstVia === 'default') r.first = fallback;
    return { name: svc.name, policy: svc.policy, sites: svc.sites.map((s) => ({ id: s.id, address: s.address, drained: s.drained })), rows };
  });
  return { ts: nowMs, services, agents: [...agents] };
}
