// node dist/bench/proxy/cache-path.js [ROUNDS] [DISPATCHES]: CPU per cache hit of the
// proxy's cache path alone (createProxyCache over a Pool to a local node:http site,
// no client sockets): 100 entries of 4 KiB stored, then DISPATCHES (default 20,000)
// cached GETs per round, 32 in flight, CPU µs per dispatch from process.cpuUsage().
// The first round includes the JIT's warm-up. Used for agent/proxy/README.md "Numbers".
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { createProxyCache } from '../../agent/proxy/cache.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const N = Number(process.argv[3] ?? 20_000);
if (!(ROUNDS > 0) || !(N > 0)) throw new Error('usage: cache-path.js [ROUNDS] [DISPATCHES]');
const body = Buffer.alloc(4096, 0x61);
const site = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length, 'cache-control': 'max-age=600', etag: '"x"', 'last-modified': new Date().toUTCString() });
  res.end(body);
});
await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
const pool = new Pool(`http://127.0.0.1:${(site.address() as AddressInfo).port}`);
const cache: Dispatcher = createProxyCache(pool, { maxMiB: 64, maxEntryMiB: 5, maxEntries: 10_000, fastHits: false }).dispatcher;
const headers = { host: 'www.example.test', 'user-agent': 'bench', accept: '*/*', via: '1.1 vantage-bench' };

function one(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    cache.dispatch({ origin: 'http://www.example.test', path, method: 'GET', headers }, {
      onRequestStart() {},
      onResponseStart() {},
      onResponseData(_c, chunk) { n += chunk.length; },
      onResponseEnd() { resolve(n); },
      onResponseError(_c, err) { reject(err); },
    });
  });
}

for (let i = 0; i < 100; i++) await one(`/hit/${i}`);
const rounds: string[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += 32) await Promise.all(Array.from({ length: 32 }, (_, j) => one(`/hit/${(i + j) % 100}`)));
  const c = process.cpuUsage(c0);
  rounds.push(((c.user + c.system) / N).toFixed(1));
}
console.log(`cache path: CPU µs per cached dispatch, ${N} per round: ${rounds.join(' ')}`);
await pool.close();
site.close();
