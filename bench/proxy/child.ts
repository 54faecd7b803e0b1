// The agent's proxy in a process of its own for bench/proxy.ts (so its CPU and RSS are
// its own): createProxy() with the bench's catalogue, the sites seeded as measured up
// (as the agent's probe rounds would), listening on the address given. Prints
// `listening host:port` on stdout; answers `rss` on stdin with `rss <bytes> <peak bytes>`.
// BENCH_PROXY_FAST_HITS=0 runs it with `cache.fastHits: false` (every hit through undici's interceptor).
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ProxyConfigSchema } from '../../agent/proxy/config.js';
import { createProxy } from '../../agent/proxy/proxy.js';
import { silentLogger } from '../../shared/log.js';
import type { Catalogue } from '../../shared/protocol.js';

const [listen, service, sitesCsv, portText, cacheMiB] = process.argv.slice(2);
if (!listen || !service || !sitesCsv || !portText) throw new Error('usage: child.js LISTEN SERVICE SITE1,SITE2 PORT [CACHE_MIB]');
const sites = sitesCsv.split(',');
const port = Number(portText);
const proxy = createProxy({
  config: ProxyConfigSchema.parse({ listen: [listen], services: [service], cache: { maxMiB: Number(cacheMiB ?? 64), fastHits: process.env.BENCH_PROXY_FAST_HITS !== '0' } }),
  agentId: 'bench',
  log: silentLogger(),
});
const catalogue: Catalogue = {
  v: 1, ts: Date.now(),
  services: [{ name: service, probe: { scheme: 'http', port, path: '/', expectStatus: [200], timeoutMs: 2000 }, sites: sites.map((address, i) => ({ id: `s${i}`, address })) }],
};
proxy.setCatalogue(catalogue);
for (let round = 0; round < 3; round++) {
  sites.forEach((address, i) => proxy.observe({
    service, site: `s${i}`, address, ok: true, status: 200, connectMs: 0.1, tlsMs: null, ttfbMs: 0.5, totalMs: 1 + i, bytes: 4096, error: null,
  }));
}
await proxy.start();
process.stdout.write(`listening ${proxy.addresses().http[0]}\n`);

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'rss') process.stdout.write(`rss ${process.memoryUsage.rss()} ${peakRss()} ${JSON.stringify(proxy.metrics.totals)}\n`);
  if (line.trim() === 'exit') void proxy.close().then(() => process.exit(0));
});
