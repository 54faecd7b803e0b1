// The admin HTTP server: node:http, JSON in and out, bearer-token check on every
// request when a token is configured (constant-time compare; 401 otherwise), and a
// tiny method+path router. Handlers throw AdminError for operator mistakes. Every error
// body is `{"error": "<one line>", "code": "<stable code from shared/errors.ts>"}`.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../shared/log.js';
import type { HostPort } from '../../shared/config.js';
import { AdminError, VantageError, type ErrorCode } from '../../shared/errors.js';

export interface Request {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  body: unknown;
}

export type Reply = { status?: number; json?: unknown; text?: string; contentType?: string };
export type Handler = (req: Request) => Reply | Promise<Reply>;
export interface Route { method: string; pattern: RegExp; handler: Handler }

const MAX_BODY_BYTES = 64 * 1024;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** True when the Authorization header carries the token; hashing first makes lengths equal. */
export function bearerMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return timingSafeEqual(digest(m?.[1]?.trim() ?? ''), tokenDigest) && m !== null;
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AdminError(413, 'request body too large');
    chunks.push(chunk);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError(400, 'request body is not valid JSON');
  }
}

export function createHttpServer(opts: { listen: HostPort; token?: string | undefined; routes: Route[]; log: Logger }) {
  const tokenDigest = opts.token === undefined ? undefined : digest(opts.token);
  const send = (res: http.ServerResponse, status: number, body: string, type: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(body);
  };
  const sendJson = (res: http.ServerResponse, status: number, value: unknown): void => send(res, status, `${JSON.stringify(value)}\n`, 'application/json');
  const sendError = (res: http.ServerResponse, status: number, code: ErrorCode, error: string): void => sendJson(res, status, { error, code });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (tokenDigest && !bearerMatches(req.headers.authorization, tokenDigest)) {
      res.setHeader('www-authenticate', 'Bearer realm="vantage-selector"');
      return sendError(res, 401, 'AUTH_ERR_REFUSED', 'missing or wrong bearer token');
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    let pathMatched = false;
    for (const r of opts.routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const body = method === 'POST' || method === 'PUT' ? await readBody(req) : undefined;
      const out = await r.handler({ method, path: url.pathname, params: m.slice(1).map((p) => decodeURIComponent(p)), query: url.searchParams, body });
      if (out.text !== undefined) return send(res, out.status ?? 200, out.text, out.contentType ?? 'text/plain; charset=utf-8');
      return sendJson(res, out.status ?? 200, out.json ?? {});
    }
    if (pathMatched) return sendError(res, 405, 'ADMIN_ERR_METHOD', `method ${method} not allowed on ${url.pathname}`);
    sendError(res, 404, 'ADMIN_ERR_NOT_FOUND', `no such endpoint ${url.pathname}`);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof AdminError) return sendError(res, err.status, err.code, err.message);
      opts.log.error({ err, url: req.url }, 'admin request failed');
      sendError(res, 500, err instanceof VantageError ? err.code : 'ADMIN_ERR_INTERNAL', (err as Error).message ?? 'internal error');
    });
  });
  server.keepAliveTimeout = 5000;

  return {
    async start(): Promise<void> {
      const hp = opts.listen;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(hp.port, hp.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    address(): { host: string; port: number } | undefined {
      const a = server.address() as AddressInfo | null;
      return a ? { host: a.address, port: a.port } : undefined;
    },
  };
}
