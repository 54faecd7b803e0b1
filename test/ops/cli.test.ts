// Every operator command against a real `vantage-selector run` process booted from a
// config on free ports and fed real v1 traffic over MQTT; then the same read-only
// commands with --db FILE after the selector is stopped.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort } from '../helpers/net.js';
import { SERVICE, type writeConfig } from '../helpers/fixtures.js';
import { CLI, cli, startFedDaemon, type Daemon } from '../helpers/selector-process.js';

let env: Awaited<ReturnType<typeof writeConfig>>;
let daemon: Daemon;
let cfg: string[];

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function json(args: string[]): Promise<Json> {
  const r = await cli([...args, ...cfg, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Json;
}

beforeAll(async () => {
  // Ready once the selector has ingested every round (4 per agent): 3 agents × 3 sites.
  ({ env, daemon, cfg } = await startFedDaemon(async (c) => {
    const r = await cli(['metrics', ...c, '--json']);
    return r.code === 0 && (JSON.parse(r.stdout) as Json).rows.length === 9;
  }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
});

describe('vantage-selector operator commands (live selector)', () => {
  const helps = [
    ['services', '--help'], ['services', 'list', '--help'], ['services', 'add', '--help'], ['services', 'set', '--help'], ['services', 'remove', '--help'],
    ['sites', 'list', '--help'], ['sites', 'add', '--help'], ['sites', 'remove', '--help'], ['sites', 'drain', '--help'], ['sites', 'undrain', '--help'],
    ['agents', 'list', '--help'], ['prefixes', 'list', '--help'], ['prefixes', 'add', '--help'], ['prefixes', 'remove', '--help'],
    ['metrics', '--help'], ['explain', '--help'], ['events', '--help'], ['top', '--help'],
  ];
  it('every command has --help (exit 0, usage on stdout)', { timeout: 90_000 }, async () => {
    // Two at a time (see 'errors' below): all at once overran the per-command timeout on 2 cores.
    const results: Awaited<ReturnType<typeof cli>>[] = [];
    for (let i = 0; i < helps.length; i += 2) results.push(...await Promise.all(helps.slice(i, i + 2).map((args) => cli(args))));
    results.forEach((r, i) => {
      expect(r.code, helps[i]?.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/^Usage: vantage-selector /);
    });
  });

  it('agents list: id, POP, state, data age, announcements (text and --json)', async () => {
    const list = await json(['agents', 'list']) as unknown as Json[];
    expect(list.map((a) => [a.id, a.pop, a.state])).toEqual([
      ['pop-lon', 'London', 'online'], ['pop-nyc', 'New York', 'online'], ['pop-old', 'Old Town', 'offline'],
    ]);
    const lon = list[0] as Json;
    expect(lon.prefixes).toEqual(['203.0.113.0/24']);
    expect(lon.resolvers).toEqual(['127.0.0.53']);
    expect(lon.addresses).toEqual(['127.1.0.1']);
    expect(lon.dataAgeS).toBeGreaterThanOrEqual(0);
    expect(lon.dataAgeS).toBeLessThan(180);
    const text = await cli(['agents', 'list', ...cfg]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+POP\s+STATE\s+LAST SEEN\s+DATA AGE\s+ADDRESSES\s+PREFIXES\s+RESOLVERS$/);
    expect(lines[1]).toMatch(/^pop-lon\s+London\s+online\s+\S+ \S+\s+\d+\.\ds\s+127\.1\.0\.1\s+203\.0\.113\.0\/24\s+127\.0\.0\.53$/);
    expect(lines).toHaveLength(4);
  });

  it('metrics --json: samples, availability, failures by class, p50/p90 of totalMs and ttfbMs', async () => {
    const report = await json(['metrics', '--since', '15m']);
    const row = (agent: string, site: string) => (report.rows as Json[]).find((r) => r.agent === agent && r.site === site) as Json;
    expect(row('pop-lon', 'ap-south')).toMatchObject({ samples: 4, ok: 2, availability: 0.5, failures: { reset: 2 }, totalMs: { p50: 150, p90: 150 } });
    expect(row('pop-nyc', 'ap-south')).toMatchObject({ samples: 4, ok: 3, failures: { timeout: 1 } });
    // us-east from pop-nyc: 10, 11, 12, 13 ms → nearest-rank p50 = 11, p90 = 13; ttfb is half.
    expect(row('pop-nyc', 'us-east')).toMatchObject({ samples: 4, availability: 1, failures: {}, totalMs: { p50: 11, p90: 13 }, ttfbMs: { p50: 5.5, p90: 6.5 } });
    expect(row('pop-nyc', 'us-east').series).toHaveLength(24);
    const only = await json(['metrics', '--agent', 'pop-lon', '--site', 'eu-west', '--service', SERVICE]);
    expect((only.rows as Json[]).map((r) => `${r.agent}/${r.site}`)).toEqual(['pop-lon/eu-west']);
  });

  it('metrics text: aligned table with resets, other failures and a sparkline', async () => {
    const r = await cli(['metrics', ...cfg, '--agent', 'pop-nyc']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+SERVICE\s+SITE\s+SAMPLES\s+AVAIL\s+RESETS\s+OTHER FAILURES\s+P50 MS\s+P90 MS\s+TTFB P50\s+TTFB P90\s+LAST 15m$/);
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe('source: raw results');
    const ap = lines.find((l) => l.includes('ap-south')) as string;
    expect(ap).toMatch(/pop-nyc\s+www\.example\.test\s+ap-south\s+4\s+75\.0%\s+0\s+timeout:1\s+200\.0\s+200\.0/);
    expect(ap).toMatch(/[▁▂▃▄▅▆▇█×]\s*$/);
    // Columns line up: SAMPLES ends at the same offset on every line.
    const end = (l: string, col: string) => l.indexOf(col) + col.length;
    expect(lines.slice(1, 4).every((l) => l[end(lines[0] as string, 'SAMPLES') - 1] === '4')).toBe(true);
  });

  it('events: site down with its evidence, first choice changes, agent states', async () => {
    const list = await json(['events', '--since', '1h']) as unknown as Json[];
    const down = list.find((e) => e.kind === 'site_down' && e.agent === 'pop-lon');
    expect(down).toMatchObject({ service: SERVICE, site: 'ap-south' });
    expect(down?.evidence).toBe('2 consecutive failures; last probes: ok 150 ms, reset, reset');
    expect(list.some((e) => e.kind === 'agent_online' && e.agent === 'pop-nyc')).toBe(true);
    const text = await cli(['events', ...cfg]);
    expect(text.stdout).toMatch(/site_down\s+pop-lon\s+www\.example\.test\s+ap-south\s+2 consecutive failures/);
    // --agent: that agent's entries only, over a long period.
    const lon = await json(['events', '--since', '24h', '--agent', 'pop-lon']) as unknown as Json[];
    expect(lon.length).toBeGreaterThan(0);
    expect(new Set(lon.map((e) => e.agent))).toEqual(new Set(['pop-lon']));
    expect(lon.some((e) => e.kind === 'site_down' && e.site === 'ap-south')).toBe(true);
  });

  it('explain: text names the match, inputs, arithmetic, order, TTL and scope', async () => {
    const r = await cli(['explain', SERVICE, '--client', '198.51.100.0/24', '--source', '127.0.0.1', ...cfg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('match: prefix 198.51.100.0/24 → agent pop-nyc');
    expect(r.stdout).toMatch(/agent: pop-nyc, online, data age \d+\.\ds \(interval 60s\)/);
    expect(r.stdout).toMatch(/us-east\s+127\.2\.0\.1\s+up\s+4\s+0\.0%\s+11\.5\s+4\s+0\s+11\.5\s+median 11\.5 ms × \(1 \+ 4 × 0 failure share\) = 11\.5/);
    expect(r.stdout).toContain('order: us-east eu-west ap-south\naddresses: 127.2.0.1 127.2.0.2 127.2.0.3\nttl: 30s\necs scope: /24\n');
  });

  it('top --once prints queries/s, answers by site and agents', async () => {
    const r = await cli(['top', '--once', ...cfg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/queries\/s: \d+\.\d\s+total queries: \d+/);
    expect(r.stdout).toMatch(/pop-lon\s+London\s+online/);
    const frame = await json(['top', '--once']);
    expect(frame.agents).toHaveLength(3);
    expect(typeof frame.queriesPerS).toBe('number');
  });

  it('top (live): redraws every second and quits on q', async () => {
    const child = spawn(process.execPath, [CLI, 'top', ...cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while ((out.match(/queries\/s:/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((out.match(/\x1b\[H\x1b\[2J/g) ?? []).length).toBeGreaterThanOrEqual(2);
    child.stdin.write('q');
    expect(await exited).toBe(0);
  }, 20_000);

  it('services, sites and prefixes: add, list, remove', { timeout: 90_000 }, async () => {
    expect(await cli(['services', 'add', 'api.example.test', '--site', 'a=127.3.0.1', '--site', 'b=127.3.0.2', '--ttl', '20', '--answer-set', 'ordered', '--ttl-unsettled', '6', ...cfg])).toMatchObject({ code: 0, stdout: 'service api.example.test added with 2 site(s)\n' });
    expect(await cli(['sites', 'add', 'api.example.test', 'c', '127.3.0.3', '--cost', '2', ...cfg])).toMatchObject({ code: 0, stdout: 'site c (127.3.0.3) added to api.example.test\n' });
    expect(await cli(['sites', 'add', 'api.example.test', 'd', '127.3.0.4,2001:db8::4', ...cfg])).toMatchObject({ code: 0, stdout: 'site d (127.3.0.4,2001:db8::4) added to api.example.test\n' });
    const sites = await json(['sites', 'list', 'api.example.test']) as unknown as Json[];
    expect(sites.map((s) => [s.id, s.address, s.cost, s.source])).toEqual([['a', '127.3.0.1', 0, 'admin'], ['b', '127.3.0.2', 0, 'admin'], ['c', '127.3.0.3', 2, 'admin'], ['d', '127.3.0.4', 0, 'admin']]);
    expect(sites[3]?.addresses).toEqual(['127.3.0.4', '2001:db8::4']);
    expect((await json(['services', 'list']) as unknown as Json[]).map((s) => [s.name, s.ttl, s.answerSet, s.ttlUnsettled])).toEqual([[SERVICE, 30, 'ordered', null], ['api.example.test', 20, 'ordered', 6]]);
    // Issue #11: answer settings of an operator-added service change in place (and travel in the catalogue).
    expect(await cli(['services', 'set', 'api.example.test', '--ttl', '9', '--policy', 'availability', '--mode', 'proxy', '--ttl-unsettled', 'default', ...cfg]))
      .toMatchObject({ stderr: '', code: 0, stdout: 'service api.example.test: ttl 9, answers 2, policy availability, answer set ordered, ttl unsettled default, mode proxy\n' });
    expect(await cli(['sites', 'add', 'api.example.test', 'e', '127.3.0.5', '--capacity', 'share=0.5', ...cfg])).toMatchObject({ code: 0 });
    const api = (await json(['services', 'list']) as unknown as Json[]).find((s) => s.name === 'api.example.test');
    expect(api).toMatchObject({ ttl: 9, answers: 2, policy: 'availability', answerSet: 'ordered', ttlUnsettled: null, mode: 'proxy' });
    expect((api?.sites as Json[]).find((s) => s.id === 'e')).toMatchObject({ capacity: { share: 0.5 } });
    expect(await cli(['sites', 'remove', 'api.example.test', 'c', ...cfg])).toMatchObject({ code: 0 });
    expect(await cli(['services', 'remove', 'api.example.test', ...cfg])).toMatchObject({ code: 0, stdout: 'service api.example.test removed\n' });
    expect((await json(['services', 'list']) as unknown as Json[]).map((s) => s.name)).toEqual([SERVICE]);

    expect(await cli(['prefixes', 'add', '192.0.2.128/25', 'pop-nyc', ...cfg])).toMatchObject({ code: 0, stdout: 'prefix 192.0.2.128/25 mapped to pop-nyc\n' });
    const prefixes = await json(['prefixes', 'list']) as unknown as Json[];
    expect(prefixes).toContainEqual({ prefix: '192.0.2.128/25', agent: 'pop-nyc', source: 'admin' });
    expect(prefixes).toContainEqual({ prefix: '203.0.113.0/24', agent: 'pop-lon', source: 'announced' });
    const e = await json(['explain', SERVICE, '--client', '192.0.2.200']);
    expect(e.match).toMatchObject({ via: 'prefix', prefix: '192.0.2.128/25', agent: 'pop-nyc' });
    expect(await cli(['prefixes', 'remove', '192.0.2.128/25', ...cfg])).toMatchObject({ code: 0, stdout: 'prefix 192.0.2.128/25 removed\n' });
    expect((await json(['explain', SERVICE, '--client', '192.0.2.200'])).match.via).toBe('default');
  });

  it('errors: exactly one line and a non-zero exit', { timeout: 90_000 }, async () => {
    const cases: [string[], number, RegExp][] = [
      [['sites', 'drain', 'nope.example.test', 'x', ...cfg], 1, /^vantage-selector: unknown service "nope\.example\.test"\n$/],
      [['sites', 'drain', SERVICE, 'nowhere', ...cfg], 1, /^vantage-selector: unknown site "nowhere" in www\.example\.test\n$/],
      [['metrics', '--service', 'nope.example.test', ...cfg], 1, /^vantage-selector: unknown service "nope\.example\.test"\n$/],
      [['metrics', '--agent', 'pop-nowhere', ...cfg], 1, /^vantage-selector: unknown agent "pop-nowhere"\n$/],
      [['metrics', '--since', '15x', ...cfg], 2, /^vantage-selector: --since: expected a duration like 30s, 15m, 1h or 2d, got "15x"\n$/],
      [['events', '--since', 'soon', ...cfg], 2, /^vantage-selector: --since: expected a duration/],
      [['events', '--agent', 'pop-nowhere', ...cfg], 1, /^vantage-selector: unknown agent "pop-nowhere"\n$/],
      [['explain', SERVICE, ...cfg], 2, /^vantage-selector: required option '--client <ip>' not specified\n$/],
      [['explain', SERVICE, '--client', '300.1.1.1', ...cfg], 2, /^vantage-selector: --client: not an IP address or prefix: "300\.1\.1\.1"\n$/],
      [['explain', SERVICE, '--client', '192.0.2.1', '--qtype', 'MX', ...cfg], 2, /^vantage-selector: --qtype: expected A or AAAA, got "MX"\n$/],
      [['services', 'add', 'www.other.test', ...cfg], 2, /^vantage-selector: "www\.other\.test" is not inside any dns\.zones entry\n$/],
      [['services', 'remove', SERVICE, ...cfg], 1, /^vantage-selector: service "www\.example\.test" is defined in selector\.yaml; remove it there\n$/],
      [['services', 'set', SERVICE, '--ttl', '5', ...cfg], 1, /^vantage-selector: service "www\.example\.test" is defined in selector\.yaml; change it there\n$/],
      [['services', 'set', SERVICE, '--policy', 'fastest', ...cfg], 2, /^vantage-selector: www\.example\.test: policy "fastest": /],
      [['services', 'set', SERVICE, ...cfg], 2, /^vantage-selector: services set: give at least one of --ttl/],
      [['sites', 'add', SERVICE, 'x', '127.3.0.9', '--capacity', 'lots', ...cfg], 2, /^vantage-selector: --capacity: expected share=F or rps=N, got "lots"\n$/],
      [['prefixes', 'remove', '203.0.113.0/24', ...cfg], 1, /^vantage-selector: prefix 203\.0\.113\.0\/24 is announced by agent pop-lon; change the agent's prefixes\n$/],
      [['prefixes', 'add', '10.0.0.0/40', 'pop-nyc', ...cfg], 2, /^vantage-selector: invalid prefix "10\.0\.0\.0\/40"\n$/],
      [['sites'], 2, /^vantage-selector: missing subcommand; add --help for usage\n$/],
      [['agents', 'list', '--bogus'], 2, /^vantage-selector: unknown option '--bogus'\n$/],
    ];
    // Two CLI processes at a time: each spends about a second of CPU loading its modules,
    // and all of them at once on a 2-core runner hit the per-command timeout.
    const results: Awaited<ReturnType<typeof cli>>[] = [];
    for (let i = 0; i < cases.length; i += 2) results.push(...await Promise.all(cases.slice(i, i + 2).map(([args]) => cli(args))));
    cases.forEach(([args, code, stderr], i) => {
      const r = results[i] as { code: number; stderr: string };
      expect(r.stderr, args.join(' ')).toMatch(stderr);
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(r.code, args.join(' ')).toBe(code);
    });
  });

  it('unreachable selector: one line naming the URL', async () => {
    const port = await freeTcpPort();
    const r = await cli(['agents', 'list', '--url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vantage-selector: cannot reach the selector admin API at http://127.0.0.1:${port}/ (ECONNREFUSED); is it running? read-only commands accept --db FILE\n`);
  });
});

describe('read-only commands with --db while the selector is stopped', () => {
  let live: { agents: Json[]; metrics: Json; services: Json[]; prefixes: Json[] };

  beforeAll(async () => {
    live = {
      agents: await json(['agents', 'list']) as unknown as Json[],
      metrics: await json(['metrics']),
      services: await json(['services', 'list']) as unknown as Json[],
      prefixes: await json(['prefixes', 'list']) as unknown as Json[],
    };
    expect(await daemon.stop()).toBe(0);
  }, 30_000);

  it('the API is gone; --db gives the same data', async () => {
    expect((await cli(['agents', 'list', ...cfg])).code).toBe(1);
    const db = ['--db', env.db, '--json'];
    const agents = JSON.parse((await cli(['agents', 'list', ...db])).stdout) as Json[];
    expect(agents.map((a) => [a.id, a.pop, a.prefixes, a.resolvers])).toEqual(live.agents.map((a) => [a.id, a.pop, a.prefixes, a.resolvers]));
    // Recomputed from the rows: offline by status, else stale once the newest metrics are older than 3 × 60 s.
    expect(agents.map((a) => a.state)).toEqual(agents.map((a) => (a.id === 'pop-old' ? 'offline' : a.dataAgeS > 180 ? 'stale' : 'online')));
    expect(agents.find((a) => a.id === 'pop-old')?.state).toBe('offline');
    const metrics = JSON.parse((await cli(['metrics', ...db])).stdout) as Json;
    const strip = (rows: Json[]) => rows.map(({ series: _s, ...r }) => r);
    expect(strip(metrics.rows as Json[])).toEqual(strip(live.metrics.rows as Json[]));
    expect(JSON.parse((await cli(['services', 'list', ...db])).stdout)).toEqual(live.services);
    expect(JSON.parse((await cli(['prefixes', 'list', ...db])).stdout)).toEqual(live.prefixes);
    const events = JSON.parse((await cli(['events', ...db])).stdout) as Json[];
    expect(events.some((e) => e.kind === 'site_down' && e.agent === 'pop-lon' && e.site === 'ap-south')).toBe(true);
    const nyc = JSON.parse((await cli(['events', '--agent', 'pop-nyc', ...db])).stdout) as Json[];
    expect(nyc.length > 0 && nyc.every((e) => e.agent === 'pop-nyc')).toBe(true);
    for (const args of [['sites', 'list'], ['agents', 'list'], ['metrics'], ['events'], ['prefixes', 'list'], ['services', 'list']]) {
      const r = await cli([...args, '--db', env.db]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(10);
    }
    expect(await cli(['agents', 'list', '--db', `${env.dir}/missing.db`])).toMatchObject({ code: 1 });
  });
});
