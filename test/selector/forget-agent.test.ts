// A removed agent's state must not live forever: RankEngine.forgetAgent drops its
// windows, rankings and answers (the answer table falls back to the default, which is
// re-ranked without it); Freshness.forget and ClientMapFeeder.forget drop the rest.
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { ClientMapFeeder } from '../../selector/mapping/feeder.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { RankEngine } from '../../selector/ranking/engine.js';
import { Freshness } from '../../selector/ranking/freshness.js';
import { createSelector } from '../../selector/selector.js';
import { agentTopic } from '../../shared/protocol.js';
import { announce, metrics, result, selectorConfig, SERVICE, SITES, until } from '../helpers/fixtures.js';

const ADDR = Object.fromEntries(SITES.map((s) => [s.id, s.address]));

function engineWith(): { engine: RankEngine; table: MemoryAnswerTable } {
  const cfg = selectorConfig();
  const table = new MemoryAnswerTable();
  const engine = new RankEngine({ ranking: cfg.ranking, table, event: () => undefined });
  engine.setServices(cfg.services.map((s) => ({ ...s, sites: s.sites.map((x) => ({ ...x })) })));
  const now = Date.now();
  for (const [agent, best] of [['pop-a', 'us-east'], ['pop-b', 'eu-west']] as const) {
    for (let i = 0; i < 3; i++) {
      for (const s of SITES) engine.add(agent, SERVICE, s.id, { ts: now - i * 1000, ok: true, totalMs: s.id === best ? 10 : 90 });
    }
  }
  engine.setFresh(new Set(['pop-a', 'pop-b']));
  engine.rankAll();
  return { engine, table };
}

describe('forgetting a removed agent', () => {
  it('RankEngine.forgetAgent drops windows, rankings and answers; the default is re-ranked without it', () => {
    const { engine, table } = engineWith();
    expect(table.getAnswer(SERVICE, 'pop-a')).toMatchObject({ key: 'pop-a' });
    expect(table.getAnswer(SERVICE, 'pop-a')?.addresses[0]).toBe(ADDR['us-east']);
    expect(table.isUniform(SERVICE)).toBe(false);
    engine.forgetAgent('pop-a');
    expect(engine.agents()).toEqual(['pop-b']);
    expect(engine.explain(SERVICE, 'pop-a')).toBeUndefined();
    expect(engine.isFresh('pop-a')).toBe(false);
    // No per-agent answer left: the table falls back to the default, now pop-b's view.
    expect(table.getAnswer(SERVICE, 'pop-a')).toMatchObject({ key: DEFAULT_KEY });
    expect(table.getAnswer(SERVICE, DEFAULT_KEY)?.addresses[0]).toBe(ADDR['eu-west']);
    expect(table.getAnswer(SERVICE, 'pop-b')?.addresses[0]).toBe(ADDR['eu-west']);
    // Forgetting twice or an unknown agent is harmless.
    engine.forgetAgent('pop-a');
    engine.forgetAgent('pop-nobody');
    expect(engine.agents()).toEqual(['pop-b']);
  });

  it('Freshness.forget and ClientMapFeeder.forget: its prefixes map to the default again', () => {
    const freshness = new Freshness(3);
    freshness.noteMetrics('pop-a', Date.now(), 10);
    expect(freshness.evaluate(Date.now()).states.get('pop-a')).toBe('fresh');
    freshness.forget('pop-a');
    expect(freshness.evaluate(Date.now()).states.has('pop-a')).toBe(false);
    const mapper = new PrefixClientMapper();
    const feeder = new ClientMapFeeder(mapper, []);
    feeder.setAnnounce('pop-a', { prefixes: ['198.51.100.0/24'], resolvers: [] });
    feeder.apply();
    mapper.setAgentStates(new Map([['pop-a', 'fresh']]));
    const client = Uint8Array.from([198, 51, 100, 7]);
    const src = Uint8Array.from([127, 0, 0, 1]);
    expect(mapper.map(4, client, 32, 4, src).key).toBe('pop-a');
    feeder.forget('pop-a');
    feeder.apply();
    expect(mapper.map(4, client, 32, 4, src)).toMatchObject({ key: DEFAULT_KEY, via: 'default' });
  });

  it('a removed agent stays forgotten across a restart although its results are kept until retention', async () => {
    const cfg = selectorConfig();
    let sel = createSelector(cfg);
    await sel.start();
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
    for (const agent of ['pop-a', 'pop-b']) {
      await c.publishAsync(agentTopic(agent, 'announce'), announce(agent, [agent === 'pop-a' ? '198.51.100.0/24' : '203.0.113.0/24']), { qos: 1 });
      await c.publishAsync(agentTopic(agent, 'metrics'), metrics(agent, 1, [result('us-east', 10), result('eu-west', 50), result('ap-south', 90)]), { qos: 1 });
    }
    await until(() => sel.engine()?.agents().length === 2, 5000, 'two agents ranked');
    await c.endAsync();
    const res = await fetch(`http://127.0.0.1:${sel.adminAddress()?.port}/api/agents/pop-a`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ id: 'pop-a', removed: true });
    expect(sel.engine()?.agents()).toEqual(['pop-b']);
    expect(sel.agentStates().has('pop-a')).toBe(false);
    expect(sel.table.getAnswer(SERVICE, 'pop-a')?.key).toBe(DEFAULT_KEY);
    sel.flush();
    expect((sel.store()?.db.prepare(`SELECT COUNT(*) AS n FROM results WHERE agent = 'pop-a'`).get() as { n: number }).n).toBe(3);
    await sel.close();
    sel = createSelector(cfg);
    await sel.start();
    try {
      expect(sel.engine()?.agents()).toEqual(['pop-b']);
      expect(sel.store()?.getAgent('pop-a')).toBeUndefined();
      expect(sel.table.getAnswer(SERVICE, 'pop-a')?.key).toBe(DEFAULT_KEY);
    } finally {
      await sel.close();
    }
  });
});
