// `vantage-selector explain NAME --client IP [--json]` (DESIGN.md command-line contract):
// how the DNS server answers this client right now and why.
import type { Command } from 'commander';
import { ArgumentError } from '../../shared/errors.js';
import type { Explanation } from '../admin/explain.js';
import { addTargetOptions, adminClient, printJson, type TargetOptions } from './admin-client.js';
import { age, table } from './format.js';
import type { BackboneChain } from '../backbone/view.js';
import { renderChain } from './lbs.js';

interface Opts extends TargetOptions { client: string; source?: string; qtype: string }

function num(v: number | null): string {
  return v === null ? '–' : Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '∞';
}

export function renderExplanation(e: Explanation): string {
  const out: string[] = [];
  const how = e.client.ecs ? `ECS ${e.client.address}/${e.client.sourceLength} from ${e.client.source}` : `source address ${e.client.address}`;
  out.push(`${e.name} ${e.qtype ?? 'A'} for client ${how}`);
  // A backbone (federation) answers through an LB first: the chain, then its own ranking only for catalogue order.
  const chain = (e as { backbone?: BackboneChain | null }).backbone;
  if (chain) {
    out.push(...renderChain(chain));
    if (chain.mode !== 'catalogue') return `${out.join('\n')}\n`;
  }
  if (e.kind !== 'service') {
    out.push(`rcode: ${e.rcode} (${e.kind}${e.zone ? `, zone ${e.zone}` : ''}); no site answer`);
    return `${out.join('\n')}\n`;
  }
  const m = e.match;
  if (m) out.push(`match: ${m.via}${m.prefix ? ` ${m.prefix}` : ''}${m.agent ? ` → agent ${m.agent}` : ''}: ${m.reason}`);
  if (e.agent) out.push(`agent: ${e.agent.id}, ${e.agent.state}, data age ${age(e.agent.dataAgeS)}${e.agent.intervalS ? ` (interval ${e.agent.intervalS}s)` : ''}`);
  out.push(`answer key: ${e.answerKey}${e.answerKey === 'default' ? ` (aggregate of online agents: ${e.defaultAgents.join(', ') || 'none — configured order'})` : ''}`);
  out.push(`policy: ${e.policy ?? '–'}`);
  if (e.familySource) out.push(`family: IPv${e.qtype === 'AAAA' ? 6 : 4}, ${e.familySource}`);
  out.push('sites:');
  const rows = e.sites.map((s) => [s.id, s.address, s.state, String(s.samples), s.failureShare === null ? '–' : `${(s.failureShare * 100).toFixed(1)}%`,
    s.medianMs === null ? '–' : `${num(s.medianMs)}`, String(s.streak), num(s.primary), num(s.score), s.formula]);
  out.push(table(['  SITE', 'ADDRESS', 'STATE', 'SAMPLES', 'FAIL', 'MEDIAN MS', 'STREAK', 'PRIMARY', 'SCORE', 'ARITHMETIC'], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)])).trimEnd());
  const h = e.hysteresis;
  out.push(h ? `hysteresis: incumbent ${h.incumbent}, challenger ${h.challenger}: ${h.decision} (${h.reason})` : 'hysteresis: no challenger to the first choice (best site is also the incumbent)');
  if (e.note) out.push(`note: ${e.note}`);
  if (e.proxy) out.push(`proxy mode: answering with the ${e.proxy.answer === 'proxy' ? `agent's proxy (${e.proxy.proxyAddresses.join(' ')})` : 'sites'}: ${e.proxy.reason}`);
  if (e.answerSet) {
    out.push(`answer set (${e.answerSet.mode}):`);
    for (const d of e.answerSet.sites) out.push(`  ${d.inSet ? 'in ' : 'out'} ${d.id}: ${d.reason}`);
  }
  out.push(`order: ${e.order.join(' ') || '(none)'}`);
  out.push(`addresses: ${e.addresses.join(' ') || '(none)'}`);
  out.push(`ttl: ${e.ttl ?? '–'}s${e.unsettled ? ` (unsettled: ${e.unsettled})` : ''}`);
  out.push(e.client.ecs
    ? `ecs scope: /${e.scope}${e.uniform ? ' (answer does not depend on the client)' : ''}`
    : `ecs scope: /${e.scope} (echoed only when the query carries ECS)`);
  return `${out.join('\n')}\n`;
}

export function registerExplain(program: Command): void {
  addTargetOptions(program.command('explain').description('show how the DNS server answers NAME for a client, and why').argument('<name>', 'DNS name'))
    .requiredOption('--client <ip>', 'client address (or ECS prefix like 198.51.100.0/24)')
    .option('--source <ip>', 'packet source (the resolver) when the client arrives as ECS')
    .option('--qtype <type>', 'A or AAAA: each address family has its own ranking and answer set', 'A')
    .action(async (name: string, opts: Opts) => {
      const qtype = opts.qtype.toUpperCase();
      if (qtype !== 'A' && qtype !== 'AAAA') throw new ArgumentError(`--qtype: expected A or AAAA, got "${opts.qtype}"`);
      const q = new URLSearchParams({ name, client: opts.client, qtype });
      if (opts.source) q.set('source', opts.source);
      const e = await adminClient(opts).get<Explanation>(`api/explain?${q}`);
      if (opts.json) return printJson(e);
      process.stdout.write(renderExplanation(e));
    });
}
