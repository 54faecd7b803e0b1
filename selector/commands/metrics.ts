// `vantage-selector metrics [--agent ID] [--service NAME] [--site ID] [--since 15m] [--json]`
// (DESIGN.md command-line contract): what each agent measured of each site.
import type { Command } from 'commander';
import { queryMetrics, type MetricsReport } from '../store/metrics-query.js';
import type { ProxyStatsRow } from '../admin/proxy-stats.js';
import { addTargetOptions, printJson, readFrom, type TargetOptions } from './admin-client.js';
import { ms, parseDuration, pct, sparkline, table } from './format.js';

const mib = (bytes: number): string => (bytes / 1_048_576).toFixed(1);

/** Proxy-cache counters per agent (totals since each agent started). */
function proxyTable(rows: readonly ProxyStatsRow[]): string {
  const header = ['AGENT', 'PROXY REQUESTS', 'HIT RATIO', 'HITS', 'REVALIDATED', 'MISSES', 'TUNNELS', 'ERRORS', 'RETRIES', 'UPSTREAM ERRORS', 'MIB FROM CACHE', 'MIB FROM SITES'];
  return `\nproxy-cache (counters since each agent started):\n${table(header, rows.map((r) => [
    r.agent, String(r.requests), r.hitRatio === null ? '–' : pct(r.hitRatio), String(r.hits), String(r.revalidated), String(r.misses), String(r.tunnels ?? 0),
    String(r.errors), String(r.retries), String(r.upstreamErrors), mib(r.bytesFromCache), mib(r.bytesFromUpstream),
  ]))}`;
}

interface Opts extends TargetOptions { agent?: string; service?: string; site?: string; since: string }

export function registerMetrics(program: Command): void {
  addTargetOptions(program.command('metrics').description('per agent × site: samples, availability, failures by class, p50/p90 latency, sparkline'), { db: true })
    .option('--agent <id>', 'only this agent')
    .option('--service <name>', 'only this service')
    .option('--site <id>', 'only this site')
    .option('--since <duration>', 'period: 30s, 15m, 1h, 2d', '15m')
    .action(async (opts: Opts) => {
      const sinceMs = parseDuration('--since', opts.since);
      const q = new URLSearchParams({ sinceMs: String(sinceMs) });
      for (const k of ['agent', 'service', 'site'] as const) if (opts[k]) q.set(k, opts[k] as string);
      // `proxy` comes only from a running selector (in memory), not from the database file.
      const report = await readFrom(opts, (c) => c.get<MetricsReport & { proxy?: ProxyStatsRow[] }>(`api/metrics?${q}`), (store) => {
        const now = Date.now();
        return queryMetrics(store, { agent: opts.agent, service: opts.service, site: opts.site, sinceMs: now - sinceMs, nowMs: now });
      });
      if (opts.json) return printJson(report);
      const proxy: ProxyStatsRow[] = (report as { proxy?: ProxyStatsRow[] }).proxy ?? [];
      if (!report.rows.length) {
        process.stdout.write(`no results since ${new Date(report.sinceMs).toISOString()}\n${sourceLine(report)}\n`);
        if (proxy.length) process.stdout.write(proxyTable(proxy));
        return;
      }
      const header = ['AGENT', 'SERVICE', 'SITE', 'SAMPLES', 'AVAIL', 'RESETS', 'OTHER FAILURES', 'P50 MS', 'P90 MS', 'TTFB P50', 'TTFB P90', `LAST ${opts.since}`];
      process.stdout.write(table(header, report.rows.map((r) => {
        const other = Object.entries(r.failures).filter(([k]) => k !== 'reset').map(([k, n]) => `${k}:${n}`).join(' ');
        return [r.agent, r.service, r.site, String(r.samples), pct(r.availability), String(r.failures.reset ?? 0), other || '–',
          ms(r.totalMs.p50), ms(r.totalMs.p90), ms(r.ttfbMs.p50 ?? r.ttfbMs.mean ?? null), ms(r.ttfbMs.p90), sparkline(r.series)];
      })) + `${sourceLine(report)}\n`);
      if (proxy.length) process.stdout.write(proxyTable(proxy));
    });
}

/** Which data answered: raw results, or the rollups when --since reaches past raw retention. */
function sourceLine(r: MetricsReport): string {
  // Older admin APIs (before storage tiers) send no source: their answer came from raw results.
  if (!r.source || r.source === 'raw') return 'source: raw results';
  const tier = r.source === 'rollup-1m' ? '1-minute rollups' : '1-hour rollups (1-minute rollups for the last day)';
  const since = r.rawSinceMs ? `raw results are kept from ${new Date(r.rawSinceMs).toISOString()}` : 'raw results do not reach back that far';
  return `source: ${tier}; ${since}; P50/P90 estimated from latency histograms, TTFB P50 shows the mean`;
}
