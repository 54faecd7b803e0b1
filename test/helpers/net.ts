// Small network helpers for tests: free ports on a loopback address, waiting for a
// DNS server or TCP listener to come up.
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port free for both UDP and TCP on `host` (bound then released). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const port = await new Promise<number>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, host, () => resolve(sock.address().port));
    });
    sock.close();
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    if (tcpFree) return port;
  }
  throw new Error(`no free port on ${host}`);
}

export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until `host:port` answers a DNS query over UDP (any answer). */
export async function waitForDns(host: string, port: number, timeoutMs: number, failed: () => boolean = () => false, name = 'health.invalid'): Promise<void> {
  // Header: id 0x1234, RD, one question for NAME A IN.
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const query = Buffer.concat([Buffer.from('123401000001000000000000', 'hex'), ...labels, Buffer.from('0000010001', 'hex')]);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (failed()) throw new Error('process exited');
    const ok = await new Promise<boolean>((resolve) => {
      const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const timer = setTimeout(() => { sock.close(); resolve(false); }, 200);
      sock.once('message', () => { clearTimeout(timer); sock.close(); resolve(true); });
      sock.once('error', () => { clearTimeout(timer); sock.close(); resolve(false); });
      sock.send(query, port, host);
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`no DNS answer from ${host}:${port} within ${timeoutMs} ms`);
}

/** Waits until a TCP connect to `host:port` succeeds. */
export async function waitForTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, host, () => { sock.destroy(); resolve(true); });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${host}:${port} within ${timeoutMs} ms`);
}
