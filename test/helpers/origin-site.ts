// A well-behaved test site (node:http) for proxy tests, counting what reaches it:
//   /cache?maxAge=N   200, Cache-Control: max-age=N, ETag "v1"; If-None-Match "v1" → 304
//   /vary             200, max-age=60, Vary: Accept-Language, body "lang=<value>"
//   /echo             200, no-store, body = JSON of the request headers it received
//   /nostore          200, Cache-Control: no-store
//   anything else     200 "site <id> <path>"
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OriginSite {
  id: string;
  host: string;
  port: number;
  /** Requests seen, by path (without query). */
  hits: Map<string, number>;
  /** 304 answers sent. */
  notModified: number;
  close(): Promise<void>;
}

export async function startOriginSite(id: string, host: string, port = 0): Promise<OriginSite> {
  const hits = new Map<string, number>();
  const site = { id, host, port: 0, hits, notModified: 0 } as OriginSite;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-site': id, ...headers });
      res.end(body);
    };
    req.resume();
    switch (url.pathname) {
      case '/cache': {
        const cc = `max-age=${Number(url.searchParams.get('maxAge') ?? 60)}`;
        if (req.headers['if-none-match'] === '"v1"') {
          site.notModified++;
          res.writeHead(304, { etag: '"v1"', 'cache-control': cc, 'x-site': id });
          res.end();
          return;
        }
        return send(200, `cached body from ${id}\n`, { 'cache-control': cc, etag: '"v1"' });
      }
      case '/vary':
        return send(200, `lang=${req.headers['accept-language'] ?? ''}\n`, { 'cache-control': 'max-age=60', vary: 'Accept-Language' });
      case '/echo':
        return send(200, JSON.stringify(req.headers), { 'cache-control': 'no-store', 'content-type': 'application/json' });
      case '/nostore':
        return send(200, `fresh from ${id}\n`, { 'cache-control': 'no-store' });
      default:
        return send(200, `site ${id} ${url.pathname}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  site.port = (server.address() as AddressInfo).port;
  site.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return site;
}
