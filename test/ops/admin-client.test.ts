// The CLI's admin API client against a real HTTP server: an error body's stable code
// becomes the CommandExit's code (exit 2 for 400, else 1); an unknown code or a body
// without one falls back to CMD_ERR_FAILED; no server at all is CMD_ERR_UNREACHABLE.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../selector/commands/admin-client.js';
import { CommandExit } from '../../shared/errors.js';
import { freeTcpPort } from '../helpers/net.js';

const replies: Record<string, [number, string]> = {
  '/not-found': [404, '{"error":"unknown service \\"x\\"","code":"ADMIN_ERR_NOT_FOUND"}'],
  '/bad': [400, '{"error":"invalid prefix \\"10.0.0.0/40\\"","code":"ADMIN_ERR_BAD_REQUEST"}'],
  '/bogus-code': [409, '{"error":"taken","code":"NOT_A_CODE"}'],
  '/no-json': [502, '<html>bad gateway</html>'],
};
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [status, body] = replies[req.url ?? ''] ?? [200, '{}'];
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function failure(client: AdminClient, path: string): Promise<CommandExit> {
  const err = await client.get(path).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CommandExit);
  return err as CommandExit;
}

describe('AdminClient error mapping', () => {
  it.each([
    ['/not-found', 1, 'ADMIN_ERR_NOT_FOUND', 'unknown service "x"'],
    ['/bad', 2, 'ADMIN_ERR_BAD_REQUEST', 'invalid prefix "10.0.0.0/40"'],
    ['/bogus-code', 1, 'CMD_ERR_FAILED', 'taken'],
    ['/no-json', 1, 'CMD_ERR_FAILED', 'HTTP 502'],
  ])('%s → exit %i, %s', async (path, exitCode, code, message) => {
    const err = await failure(new AdminClient(base, undefined), path);
    expect([err.exitCode, err.code, err.message]).toEqual([exitCode, code, message]);
  });

  it('no server: CMD_ERR_UNREACHABLE, exit 1, the cause kept', async () => {
    const port = await freeTcpPort();
    const err = await failure(new AdminClient(`http://127.0.0.1:${port}/`, undefined), 'api/agents');
    expect([err.exitCode, err.code]).toEqual([1, 'CMD_ERR_UNREACHABLE']);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.cause).toBeDefined();
  });
});
