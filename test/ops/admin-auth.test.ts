// Admin API with http.token set: every endpoint (JSON, /metrics, the status page)
// answers 401 without the right bearer token; the CLI passes the token from the
// config. Also the Prometheus series read from the selector's plain counters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { bearerMatches } from '../../selector/admin/http-server.js';
import { createHash } from 'node:crypto';
import { dig } from '../helpers/dns-client.js';
import { feedWorld, SERVICE, writeConfig } from '../helpers/fixtures.js';
import { cli, ensureBuilt } from '../helpers/selector-process.js';

const TOKEN = 'correct-horse-battery-staple-42';
let env: Awaited<ReturnType<typeof writeConfig>>;
let sel: Selector;
let base: string;

beforeAll(async () => {
  ensureBuilt();
  env = await writeConfig({ token: TOKEN });
  sel = createSelector(loadSelectorConfig(env.conf));
  await sel.start();
  base = `http://127.0.0.1:${sel.adminAddress()?.port}`;
  await feedWorld(env.ports.mqtt);
  for (let i = 0; i < 100 && sel.agentStates().get('pop-lon') !== 'fresh'; i++) await new Promise((r) => setTimeout(r, 50));
}, 30_000);

afterAll(async () => {
  await sel?.close();
});

const auth = { authorization: `Bearer ${TOKEN}` };

describe('admin API bearer token', () => {
  const paths = ['/api/agents', '/api/services', '/api/metrics', '/api/events', '/api/stats', '/api/status', '/metrics', '/', '/api/nowhere'];

  it('401 without a token, with a wrong one, or with another scheme, on every path', async () => {
    for (const path of paths) {
      for (const headers of [{}, { authorization: 'Bearer wrong-token-of-some-length' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: 'Bearer ' }]) {
        const res = await fetch(base + path, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="vantage-selector"');
        expect(await res.json()).toEqual({ error: 'missing or wrong bearer token', code: 'AUTH_ERR_REFUSED' });
      }
    }
    const post = await fetch(`${base}/api/services/${SERVICE}/sites/us-east/drain`, { method: 'POST' });
    expect(post.status).toBe(401);
    expect(JSON.parse((await cli(['sites', 'list', '--url', base, '--json'])).stdout || '[]')).toEqual([]);
  });

  it('200 with the token; 404 for unknown paths, 405 for wrong methods', async () => {
    for (const path of paths.slice(0, -1)) expect((await fetch(base + path, { headers: auth })).status, path).toBe(200);
    expect((await fetch(`${base}/api/nowhere`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/api/agents`, { method: 'DELETE', headers: auth })).status).toBe(405);
    const agents = await (await fetch(`${base}/api/agents`, { headers: { authorization: `bearer ${TOKEN}` } })).json() as { id: string }[];
    expect(agents.map((a) => a.id)).toEqual(['pop-lon', 'pop-nyc', 'pop-old']);
  });

  it('every error body carries the stable code of its status (shared/errors.ts)', async () => {
    const json = { ...auth, 'content-type': 'application/json' };
    const cases: [string, string, RequestInit, number, string][] = [
      ['bad JSON', '/api/prefixes', { method: 'POST', headers: json, body: '{' }, 400, 'ADMIN_ERR_BAD_REQUEST'],
      ['bad prefix body', '/api/prefixes', { method: 'POST', headers: json, body: '{"prefix":1}' }, 400, 'ADMIN_ERR_BAD_REQUEST'],
      ['unknown service', '/api/services/nope.example.test/sites', { headers: auth }, 404, 'ADMIN_ERR_NOT_FOUND'],
      ['unknown endpoint', '/api/nowhere', { headers: auth }, 404, 'ADMIN_ERR_NOT_FOUND'],
      ['wrong method', '/api/agents', { method: 'DELETE', headers: auth }, 405, 'ADMIN_ERR_METHOD'],
      ['configured service', `/api/services/${SERVICE}`, { method: 'DELETE', headers: auth }, 409, 'ADMIN_ERR_CONFLICT'],
      ['body over 64 KiB', '/api/prefixes', { method: 'POST', headers: json, body: 'x'.repeat(70_000) }, 413, 'ADMIN_ERR_TOO_LARGE'],
    ];
    for (const [what, path, init, status, code] of cases) {
      const res = await fetch(base + path, init);
      expect(res.status, what).toBe(status);
      const body = await res.json() as { error: string; code: string };
      expect(body.code, what).toBe(code);
      expect(body.error, what).toMatch(/\S/);
    }
  });

  it('CLI: token from --config works; a wrong --token is one line, exit 1', async () => {
    const ok = await cli(['agents', 'list', '--config', env.conf, '--json']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as unknown[]).length).toBe(3);
    expect(await cli(['agents', 'list', '--config', env.conf, '--token', 'not-the-token-at-all'])).toMatchObject({
      code: 1, stderr: 'vantage-selector: admin API refused the request: missing or wrong bearer token (--token or http.token)\n',
    });
    expect(await cli(['agents', 'list', '--url', base])).toMatchObject({
      code: 1, stderr: 'vantage-selector: admin API refused the request: missing or wrong bearer token (--token or http.token)\n',
    });
  });

  it('bearerMatches compares digests (any length) and requires the Bearer scheme', () => {
    const d = createHash('sha256').update('abc').digest();
    expect(bearerMatches('Bearer abc', d)).toBe(true);
    expect(bearerMatches('Bearer  abc ', d)).toBe(true);
    expect(bearerMatches('Bearer abcd', d)).toBe(false);
    expect(bearerMatches('abc', d)).toBe(false);
    expect(bearerMatches(undefined, d)).toBe(false);
  });
});

describe('Prometheus /metrics', () => {
  it('has DNS, answer, agent, ingest, ranking and DB series with the right values', async () => {
    for (let i = 0; i < 3; i++) await dig(env.ports.dns, SERVICE, { subnet: '198.51.100.0/24' });
    await dig(env.ports.dns, SERVICE, { subnet: '203.0.113.0/24' });
    await dig(env.ports.dns, 'nothing.example.test');
    await dig(env.ports.dns, 'www.elsewhere.invalid');
    sel.flush();
    // DNS worker threads post their counters about every 100 ms: scrape until the last query shows.
    let res = await fetch(`${base}/metrics`, { headers: auth });
    let text = await res.text();
    // Each worker posts its own counters: wait until every response of this test is in.
    const all = ['{rcode="NOERROR"} 4', '{rcode="NXDOMAIN"} 1', '{rcode="REFUSED"} 1'].map((s) => `vantage_selector_dns_responses_total${s}`);
    for (let i = 0; i < 50 && !all.every((line) => text.includes(line)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`${base}/metrics`, { headers: auth });
      text = await res.text();
    }
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const value = (series: string): number | undefined => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('vantage_selector_dns_responses_total{rcode="NOERROR"}')).toBe(4);
    expect(value('vantage_selector_dns_responses_total{rcode="NXDOMAIN"}')).toBe(1);
    expect(value('vantage_selector_dns_responses_total{rcode="REFUSED"}')).toBe(1);
    expect(value('vantage_selector_dns_queries_total{qtype="A"}')).toBe(6);
    expect(value('vantage_selector_dns_internal_errors_total')).toBe(0);
    expect(value('vantage_selector_dns_answers_total{service="www.example.test",site="us-east"}')).toBe(3);
    expect(value('vantage_selector_dns_answers_total{service="www.example.test",site="eu-west"}')).toBe(1);
    expect(value('vantage_selector_agents{state="online"}')).toBe(2);
    expect(value('vantage_selector_agents{state="offline"}')).toBe(1);
    expect(value('vantage_selector_ingest_accepted_total{kind="metrics"}')).toBe(12);
    expect(value('vantage_selector_ingest_accepted_total{kind="announce"}')).toBe(3);
    expect(value('vantage_selector_ingest_results_total')).toBe(36);
    expect(value('vantage_selector_db_results_committed_total')).toBe(36);
    expect(value('vantage_selector_db_write_errors_total')).toBe(0);
    expect(value('vantage_selector_rank_recomputations_total')).toBeGreaterThanOrEqual(12);
    expect(text).toContain('# TYPE vantage_selector_ingest_rejected_total counter');
  });

  it('rejections are counted by reason', async () => {
    const mqtt = (await import('mqtt')).default;
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${env.ports.mqtt}`, { reconnectPeriod: 0 });
    await c.publishAsync('vantage/v1/agents/pop-nyc/metrics', 'not json', { qos: 1 });
    await c.publishAsync('vantage/v1/agents/pop-nyc/metrics', JSON.stringify({ v: 1, agent: 'pop-lon', seq: 99, ts: Date.now(), intervalS: 10, results: [] }), { qos: 1 });
    await c.endAsync();
    let text = '';
    for (let i = 0; i < 50 && !text.includes('reason="agent_mismatch"'); i++) {
      text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(text).toContain('vantage_selector_ingest_rejected_total{reason="json"} 1');
    expect(text).toContain('vantage_selector_ingest_rejected_total{reason="agent_mismatch"} 1');
  });
});
