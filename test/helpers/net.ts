// Small network helpers for tests: free ports on a loopback address, waiting for a TCP
// listener to come up (waiting for a DNS server: dns-client.ts).
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pickPort } from '../../bench/free-port.js';

/** A port free for both UDP and TCP on `host`, below the ephemeral range (bench/free-port.ts says why). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return pickPort(host, true);
}

/** A TCP port free on `host`, below the ephemeral range. */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return pickPort(host);
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
