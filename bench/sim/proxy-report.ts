// The proxy world's report: client latency (p50/p95) through each POP's proxy — hits
// and misses apart — against direct steering to the site the selector answers, and
// the cache hit ratio, per POP and over all POPs. `proxySummary` is the stable JSON.
import type { FetchSample, ProxyRunResult } from './proxy-run.js';

export interface LatencyStats {
  n: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface ProxyRow {
  /** A POP id, or `all`. */
  pop: string;
  proxy: { all: LatencyStats; hits: LatencyStats; misses: LatencyStats; revalidated: number; viaSite: number; errors: number };
  direct: { all: LatencyStats; errors: number };
  /** (hits + revalidated) / answers from the proxy; null without any. */
  hitRatio: number | null;
}

export interface ProxySummary {
  world: string;
  warmupS: number;
  converged: boolean;
  rows: ProxyRow[];
}

function stats(ms: number[]): LatencyStats {
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (p: number): number | null => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) : null);
  return { n: sorted.length, p50Ms: q(0.5), p95Ms: q(0.95) };
}

function row(pop: string, samples: readonly FetchSample[]): ProxyRow {
  const proxied = samples.filter((x) => x.via === 'proxy');
  const direct = samples.filter((x) => x.via === 'direct');
  const ms = (list: readonly FetchSample[]): number[] => list.flatMap((x) => (x.ms === null ? [] : [x.ms]));
  const of = (o: FetchSample['outcome']): FetchSample[] => proxied.filter((x) => x.outcome === o);
  const hits = of('hit');
  const misses = of('miss');
  const revalidated = of('revalidated');
  const fromProxy = hits.length + misses.length + revalidated.length;
  return {
    pop,
    proxy: {
      all: stats(ms(proxied)), hits: stats(ms(hits)), misses: stats(ms(misses)),
      revalidated: revalidated.length, viaSite: of('site').length, errors: of('error').length,
    },
    direct: { all: stats(ms(direct)), errors: direct.filter((x) => x.outcome === 'error').length },
    hitRatio: fromProxy ? (hits.length + revalidated.length) / fromProxy : null,
  };
}

export function proxySummary(result: ProxyRunResult): ProxySummary {
  const rows = result.world.pops.map((p) => row(p.id, result.samples.filter((x) => x.pop === p.id)));
  rows.push(row('all', result.samples));
  return { world: result.world.name, warmupS: result.warmupS, converged: result.converged, rows };
}

const f = (v: number | null): string => (v === null ? '-' : v.toFixed(1)).padStart(7);

/** The table printed by `npm run bench:proxy-world`. */
export function proxyTextSummary(summary: ProxySummary): string {
  const head = `${'POP'.padEnd(10)} ${'hit%'.padStart(6)} │ ${'proxy'.padStart(6)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} │ ${'hits'.padStart(6)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} │ ${'misses'.padStart(6)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} │ ${'direct'.padStart(6)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} │ errors p/d, via site`;
  const lines = summary.rows.map((r) => [
    r.pop.padEnd(10), (r.hitRatio === null ? '-' : (r.hitRatio * 100).toFixed(1)).padStart(6), '│',
    String(r.proxy.all.n).padStart(6), f(r.proxy.all.p50Ms), f(r.proxy.all.p95Ms), '│',
    String(r.proxy.hits.n).padStart(6), f(r.proxy.hits.p50Ms), f(r.proxy.hits.p95Ms), '│',
    String(r.proxy.misses.n).padStart(6), f(r.proxy.misses.p50Ms), f(r.proxy.misses.p95Ms), '│',
    String(r.direct.all.n).padStart(6), f(r.direct.all.p50Ms), f(r.direct.all.p95Ms), '│',
    `${r.proxy.errors}/${r.direct.errors}, ${r.proxy.viaSite}`,
  ].join(' '));
  return [
    `world ${summary.world}: client latency in ms, through the POP's proxy (answered for the mode: proxy service) vs directly to the site the selector steers to; warm-up ${summary.warmupS} s${summary.converged ? '' : ' (did not converge)'}`,
    head,
    ...lines,
    '',
  ].join('\n');
}
