// The agent's `proxy:` section: every bad value is one error naming the key, and a
// listener that cannot bind stops `vantage-agent run` with a one-line reason.
import { describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../../agent/config.js';

const base = { id: 'pop-a', mqtt: { url: 'mqtt://127.0.0.1:1883' } };

describe('proxy: config', () => {
  const bad: [string, unknown, RegExp][] = [
    ['services missing', { listen: ['127.0.0.1:8080'] }, /^proxy\.services: /],
    ['services empty', { listen: ['127.0.0.1:8080'], services: [] }, /^proxy\.services: /],
    ['bad listen', { listen: ['nope'], services: ['www.example.test'] }, /^proxy\.listen\[0\]: expected host:port/],
    ['no listener', { services: ['www.example.test'] }, /^proxy\.listen: at least one of listen or tlsListen/],
    ['0.0.0.0 without announce', { listen: ['0.0.0.0:80'], services: ['www.example.test'] }, /^proxy\.announce: required when a listener binds 0\.0\.0\.0/],
    ['tls for a service not served', { tlsListen: ['127.0.0.1:443'], services: ['www.example.test'], tls: { 'x.example.test': { cert: 'c', key: 'k' } } }, /^proxy\.tls\.x\.example\.test: not in proxy\.services/],
    ['negative cache', { listen: ['127.0.0.1:8080'], services: ['www.example.test'], cache: { maxMiB: -1 } }, /^proxy\.cache\.maxMiB: /],
    ['unknown key', { listen: ['127.0.0.1:8080'], services: ['www.example.test'], upstreams: [] }, /^proxy\.upstreams: unknown key/],
    ['tiny header limit', { listen: ['127.0.0.1:8080'], services: ['www.example.test'], maxHeaderBytes: 10 }, /^proxy\.maxHeaderBytes: /],
  ];
  for (const [name, proxy, message] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => parseAgentConfig({ ...base, proxy })).toThrow(message);
    });
  }

  it('fills the defaults and lower-cases service names', () => {
    const c = parseAgentConfig({ ...base, proxy: { listen: ['0.0.0.0:80'], announce: ['192.0.2.53'], services: ['WWW.Example.Test'] } });
    expect(c.proxy).toMatchObject({
      services: ['www.example.test'], cache: { maxMiB: 64 }, maxHeaderBytes: 16_384, maxBodyBytes: 10 * 1_048_576,
      clientTimeoutMs: 30_000, xForwardedFor: false, tlsListen: [],
    });
  });
});

describe('vantage-agent run with a proxy that cannot listen', () => {
  it('exits non-zero with one line naming proxy.listen[0]', async () => {
    const cli = join(process.cwd(), 'dist/agent/cli.js');
    if (!existsSync(cli)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.3.3.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'vantage-proxy-cfg-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, `id: pop-a\nmqtt: { url: "mqtt://127.0.0.1:9" }\nresolvers: []\nproxy:\n  listen: ["127.3.3.1:${port}"]\n  services: [www.example.test]\n`);
    try {
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [cli, 'run', '--config', file], { timeout: 15_000 }, (err, _out, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stderr });
        });
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^vantage-agent: proxy\\.listen\\[0\\]: cannot listen on 127\\.3\\.3\\.1:${port}: EADDRINUSE`));
    } finally {
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
