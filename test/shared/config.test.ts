import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/errors.js';
import { loadSelectorConfig, parseSelectorConfig } from '../../selector/config.js';
import { loadAgentConfig, parseAgentConfig } from '../../agent/config.js';

const zones = [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }];
const base = { dns: { zones }, services: [{ name: 'www.example.test', sites: [{ id: 'a', address: '127.2.0.1' }] }] };

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  return 'accepted';
}

describe('broker settings (mqtt.urls, embedded exposure)', () => {
  it('refuses an embedded broker without agent auth on a non-loopback address, naming auth.agents', () => {
    expect(message(() => parseSelectorConfig({ ...base, auth: { agents: 'off' }, mqtt: { listen: '0.0.0.0:1883' } })))
      .toBe(`auth.agents: must be "required" when the embedded broker's mqtt.listen (0.0.0.0:1883) is not loopback`);
    expect(message(() => parseSelectorConfig({ ...base, auth: { agents: 'off' }, mqtt: { listen: '[::]:1883' } }))).toMatch(/^auth\.agents: /);
    // Loopback, agent auth on, or an external broker (mqtt.listen unused): accepted.
    expect(message(() => parseSelectorConfig({ ...base, auth: { agents: 'off' }, mqtt: { listen: '127.0.0.5:1883' } }))).toBe('accepted');
    expect(message(() => parseSelectorConfig({ ...base, auth: { agents: 'required' }, mqtt: { listen: '0.0.0.0:1883' } }))).toBe('accepted');
    expect(message(() => parseSelectorConfig({ ...base, auth: { agents: 'off' }, mqtt: { listen: '0.0.0.0:1883', urls: ['mqtt://127.0.0.1:1'] } }))).toBe('accepted');
  });

  it('accepts mqtt.urls or mqtt.url (not both) on both daemons', () => {
    const urls = ['mqtt://127.0.0.1:4222', 'mqtts://localhost:8883'];
    expect(parseSelectorConfig({ ...base, mqtt: { urls } }).mqtt.urls).toEqual(urls);
    expect(message(() => parseSelectorConfig({ ...base, mqtt: { urls, url: urls[0] } }))).toBe('mqtt.urls: set either mqtt.url or mqtt.urls, not both');
    expect(message(() => parseSelectorConfig({ ...base, mqtt: { urls: ['mqtt://a:1', 'tcp://b:2'] } }))).toMatch(/^mqtt\.urls\[1\]: expected mqtt:/);
    const agent = { id: 'pop-a' };
    expect(parseAgentConfig({ ...agent, mqtt: { urls } }).mqtt.urls).toEqual(urls);
    expect(parseAgentConfig({ ...agent, mqtt: { url: urls[0] } }).mqtt.url).toBe(urls[0]);
    expect(message(() => parseAgentConfig({ ...agent, mqtt: {} }))).toBe('mqtt.url: required (or mqtt.urls, a list of broker URLs)');
    expect(message(() => parseAgentConfig({ ...agent, mqtt: { url: urls[0], urls } }))).toBe('mqtt.urls: set either mqtt.url or mqtt.urls, not both');
    expect(message(() => parseAgentConfig({ ...agent, mqtt: { urls: [] } }))).toBe('mqtt.urls: expected at least one broker URL');
  });
});

describe('selector config', () => {
  it('fills defaults and freezes', () => {
    const cfg = parseSelectorConfig(base);
    expect(cfg.dns.listen).toEqual([{ host: '127.0.0.1', port: 5353 }]);
    expect(cfg.mqtt.listen).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(cfg.http.listen).toEqual({ host: '127.0.0.1', port: 8053 });
    expect(cfg.services[0]?.ttl).toBe(30);
    expect(cfg.services[0]?.probe.port).toBe(80);
    expect(cfg.ranking.hysteresisPct).toBe(10);
    expect(Object.isFrozen(cfg.services[0]?.sites)).toBe(true);
  });

  it.each([
    [{ ...base, dns: { zones, listen: ['127.0.0.1'] } }, /^dns\.listen\[0\]: expected host:port/],
    [{ ...base, dns: { zones, listen: ['[::1]:99999'] } }, /^dns\.listen\[0\]/],
    [{ ...base, dns: { zones, listen: ['127.0.0.1:53', '::1:53'] } }, /^dns\.listen\[1\]: expected host:port \(IPv6 as \[addr\]:port\)$/],
    [{ ...base, dns: { zones, listen: ['localhost:53'] } }, /^dns\.listen\[0\]: expected host:port/],
    [{ ...base, mqtt: { listen: 1883 } }, /^mqtt\.listen: /],
    [{ ...base, http: { listen: '127.0.0.1:' } }, /^http\.listen: expected host:port \(IPv6 as \[addr\]:port\)$/],
    [{ ...base, bogus: true }, /^bogus: unknown key/],
    [{ ...base, listen: ['x'] }, /^listen: was removed; use dns\.listen/],
    [{ ...base, services: [{ name: 'www.other.test' }] }, /^services\[0\]\.name: .*not inside any dns\.zones/],
    [{ ...base, services: [{ name: 'www.example.test', policy: 'random' }] }, /^services\[0\]\.policy/],
    [{ ...base, services: [{ name: 'www.example.test', sites: [{ id: 'a', address: '127.2.0.1' }, { id: 'a', address: '127.2.0.2' }] }] }, /^services\[0\]\.sites\[1\]\.id: duplicate/],
    [{ ...base, http: { listen: '0.0.0.0:8053' } }, /^http\.token: required when http\.listen \(0\.0\.0\.0:8053\) is not loopback$/],
    [{ ...base, http: { listen: '[::]:8053' } }, /^http\.token: required when http\.listen \(\[::\]:8053\) is not loopback$/],
    [{ ...base, auth: { agents: 'maybe' } }, /^auth\.agents/],
    [{ ...base, ranking: { hysteresisPct: -1 } }, /^ranking\.hysteresisPct/],
    [{ ...base, services: [{ name: 'www.example.test', sites: [{ id: 'a' }] }] }, /^services\[0\]\.sites\[0\]\.address: required \(or addresses\)/],
    [{ ...base, services: [{ name: 'www.example.test', sites: [{ id: 'a', address: '127.2.0.1', addresses: ['::1'] }] }] }, /^services\[0\]\.sites\[0\]\.address: must be one of addresses/],
    [{ ...base, services: [{ name: 'www.example.test', sites: [{ id: 'a', addresses: ['::1', '::1'] }] }] }, /^services\[0\]\.sites\[0\]\.addresses: duplicate address/],
    [{ ...base, services: [{ name: 'www.example.test', sites: [{ id: 'a', addresses: ['127.1'] }] }] }, /^services\[0\]\.sites\[0\]\.addresses\[0\]: expected an IP address/],
    [{ ...base, services: [{ name: 'www.example.test', answerSet: 'random' }] }, /^services\[0\]\.answerSet/],
    [{ ...base, services: [{ name: 'www.example.test', ttlUnsettled: 4 }] }, /^services\[0\]\.ttlUnsettled/],
    [{ ...base, services: [{ name: 'www.example.test', ttl: 20, ttlUnsettled: 25 }] }, /^services\[0\]\.ttlUnsettled: 25 is longer than ttl 20/],
  ])('rejects %j', (raw, expected) => {
    expect(message(() => parseSelectorConfig(raw))).toMatch(expected);
  });

  it('dual-stack sites: addresses parsed into address (the first) and addresses; answerSet defaults to band', () => {
    const cfg = parseSelectorConfig({ ...base, services: [{ name: 'www.example.test', sites: [{ id: 'a', addresses: ['::1', '127.2.0.1'] }, { id: 'b', address: '127.2.0.2' }] }] });
    expect(cfg.services[0]?.sites).toMatchObject([{ id: 'a', address: '::1', addresses: ['::1', '127.2.0.1'] }, { id: 'b', address: '127.2.0.2', addresses: ['127.2.0.2'] }]);
    expect(cfg.services[0]?.answerSet).toBe('band');
    expect(cfg.services[0]?.ttlUnsettled).toBeUndefined();
  });

  it('parses host:port once into {host, port} (IPv6 in brackets, port 0 allowed)', () => {
    const cfg = parseSelectorConfig({ ...base, dns: { zones, listen: ['127.0.0.1:53', '[::1]:0', '[2001:db8::1]:65535'] }, http: { listen: '[::1]:8053' } });
    expect(cfg.dns.listen).toEqual([{ host: '127.0.0.1', port: 53 }, { host: '::1', port: 0 }, { host: '2001:db8::1', port: 65535 }]);
    expect(cfg.http.listen).toEqual({ host: '::1', port: 8053 });
    expect(Object.isFrozen(cfg.dns.listen[0])).toBe(true);
  });

  it('loads YAML and applies overrides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-cfg-'));
    const file = join(dir, 'selector.yaml');
    writeFileSync(file, 'dns:\n  zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: h.example.test }]\n');
    expect(loadSelectorConfig(file, { 'dns.listen': ['127.0.0.1:0'] }).dns.listen).toEqual([{ host: '127.0.0.1', port: 0 }]);
    writeFileSync(file, 'dns: [\n');
    expect(message(() => loadSelectorConfig(file))).toMatch(/YAML syntax error at line/);
    expect(message(() => loadSelectorConfig(join(dir, 'missing.yaml')))).toMatch(/cannot read config file .*ENOENT/);
  });
});

describe('agent config', () => {
  it('fills defaults', () => {
    const cfg = parseAgentConfig({ id: 'pop-nyc', mqtt: { url: 'mqtt://127.0.0.1:1883' } });
    expect(cfg.intervalS).toBe(10);
    expect(cfg.concurrency).toBe(32);
    expect(cfg.resolvers).toBe('auto');
    expect(cfg.http.listen).toBeUndefined();
    expect(parseAgentConfig({ id: 'pop-nyc', mqtt: { url: 'mqtt://127.0.0.1:1883' }, http: { listen: '127.0.0.1:9100' } }).http.listen).toEqual({ host: '127.0.0.1', port: 9100 });
  });

  it.each([
    [{ id: 'Pop', mqtt: { url: 'mqtt://127.0.0.1:1883' } }, /^id:/],
    [{ id: 'pop', mqtt: { url: 'http://x' } }, /^mqtt\.url/],
    [{ id: 'pop', mqtt: { url: 'mqtt://127.0.0.1' }, intervalS: 0 }, /^intervalS/],
    [{ id: 'pop', mqtt: { url: 'mqtt://127.0.0.1' }, bindAddress: 'nyc' }, /^bindAddress/],
    [{ id: 'pop', mqtt: { url: 'mqtt://127.0.0.1' }, prefixes: ['198.51.100.0/40'] }, /^prefixes\[0\]/],
    [{ id: 'pop', mqtt: { url: 'mqtt://127.0.0.1' }, interval: 5 }, /^interval: was removed; use intervalS/],
    [{ id: 'pop', mqtt: { url: 'mqtt://127.0.0.1' }, http: { listen: ':9100' } }, /^http\.listen: expected host:port \(IPv6 as \[addr\]:port\)$/],
  ])('rejects %j', (raw, expected) => {
    expect(message(() => parseAgentConfig(raw))).toMatch(expected);
  });

  it('loads from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-cfg-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, 'id: pop-nyc\nmqtt: { url: "mqtt://127.0.0.1:1883", password: secret }\n');
    expect(loadAgentConfig(file, { intervalS: 5 }).intervalS).toBe(5);
  });
});
