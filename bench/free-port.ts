// Ports for test and benchmark servers that are started after the port is picked (child
// processes, servers bound later). A port the kernel hands out for bind(0) is in the
// ephemeral range, which is also where every outgoing connection takes its local port: in a
// busy suite another test's connect() can take it between the pick and the bind (CI once lost
// a NATS node to "address already in use" that way). So pick below the ephemeral range, at
// random, and check that the port binds now.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

const LOW = 10_000;
const HIGH = ephemeralLow() - 1;

function tcpBinds(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function udpBinds(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => { sock.close(); resolve(false); });
    sock.bind(port, host, () => sock.close(() => resolve(true)));
  });
}

async function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A port on `host` that binds for TCP now (and for UDP too when `udp`), outside the ephemeral range. */
export async function pickPort(host = '127.0.0.1', udp = false): Promise<number> {
  if (HIGH - LOW >= 1000) {
    for (let i = 0; i < 50; i++) {
      const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
      if (!(await tcpBinds(port, host))) continue;
      if (udp && !(await udpBinds(port, host))) continue;
      return port;
    }
  }
  // An unusual ephemeral range (or a crowded one): fall back to the kernel's pick.
  for (let i = 0; i < 20; i++) {
    const port = await kernelPort(host);
    if (!udp || (await udpBinds(port, host))) return port;
  }
  throw new Error(`no free port on ${host}`);
}
