// Reader mode of the batch engine (native/udp-batch/reader.c): with the packet cache on,
// a thread of the addon reads the socket and answers cache hits itself, so a hit needs no
// event-loop turn; a batch with a miss waits for the JS thread. Shown here with the event
// loop blocked by execFileSync (dig, a separate process, is the client): the hit is
// answered and counted, the miss is not (until the loop runs again). VANTAGE_UDP_READER=0
// (poll mode) is the contrast: there the same hit waits for the loop too.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { digRaw, packetCacheTestable } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

const CACHE = packetCacheTestable();

// +nocookie: dig's client cookie is random per run, and the key is the query's bytes.
const DIG = ['+norec', '+nocookie', '+subnet=198.51.100.0/24'];

/** dig from this thread with the event loop blocked until it exits: its output, or '' on no answer. */
function digBlocking(port: number, name: string): string {
  try {
    return execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', ...DIG, name, 'A'], { encoding: 'utf8' });
  } catch {
    return ''; // dig exits 9 when no server answered
  }
}

const addresses = (out: string): string[] => [...out.matchAll(/^\S+\s+\d+\s+IN\s+A\s+(\S+)$/gm)].map((m) => m[1] as string);

async function withReader<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = process.env.VANTAGE_UDP_READER;
  if (value === undefined) delete process.env.VANTAGE_UDP_READER;
  else process.env.VANTAGE_UDP_READER = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.VANTAGE_UDP_READER;
    else process.env.VANTAGE_UDP_READER = before;
  }
}

describe.skipIf(!CACHE)('udp-batch reader mode', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.server.close();
    world = undefined;
  });

  /**
   * Asks with the loop running: the second sighting caches the answer. The misses gave the
   * socket to the JS thread (a run of misses is read there, reader.c); four batches of hits
   * in a row give it back to the reader.
   */
  async function warm(w: World, name: string): Promise<string[]> {
    const first = addresses(await digRaw(w.port, ...DIG, name, 'A'));
    expect(first.length).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(addresses(await digRaw(w.port, ...DIG, name, 'A'))).toEqual(first);
    return first;
  }

  it('answers a cached query while the event loop is blocked, and counts it', async () => {
    world = await withReader(undefined, () => startWorld({}, { packetCache: true }));
    const w = world;
    const expected = await warm(w, 'www.example.test');
    const hits = w.server.stats().packetCacheHits;
    const out = digBlocking(w.port, 'www.example.test');
    expect(addresses(out)).toEqual(expected);
    expect(w.server.stats().packetCacheHits).toBe(hits + 1);
  });

  it('a miss waits for the event loop: no answer while it is blocked, none made up', async () => {
    world = await withReader(undefined, () => startWorld({}, { packetCache: true }));
    const w = world;
    await warm(w, 'www.example.test');
    expect(digBlocking(w.port, 'same.example.test')).toBe('');
    // The loop runs again: the reader had waited for it. After the hits that follow, the
    // reader has the socket again and serves hits with the loop blocked.
    expect(addresses(await digRaw(w.port, ...DIG, 'same.example.test', 'A')).length).toBeGreaterThan(0);
    await warm(w, 'www.example.test');
    expect(addresses(digBlocking(w.port, 'www.example.test')).length).toBeGreaterThan(0);
  });

  it('a run of misses is read by the JS thread; hits wait for it until four batches of hits give the socket back', async () => {
    world = await withReader(undefined, () => startWorld({}, { packetCache: true }));
    const w = world;
    const expected = await warm(w, 'www.example.test');
    // Two sightings of a new query (the second caches it): the socket is the JS thread's now.
    for (let i = 0; i < 2; i++) expect(addresses(await digRaw(w.port, ...DIG, 'same.example.test', 'A')).length).toBeGreaterThan(0);
    expect(digBlocking(w.port, 'www.example.test')).toBe('');
    for (let i = 0; i < 4; i++) expect(addresses(await digRaw(w.port, ...DIG, 'www.example.test', 'A'))).toEqual(expected);
    expect(addresses(digBlocking(w.port, 'www.example.test'))).toEqual(expected);
  });

  it('poll mode (VANTAGE_UDP_READER=0): the same hit waits for the event loop', async () => {
    world = await withReader('0', () => startWorld({}, { packetCache: true }));
    const w = world;
    await warm(w, 'www.example.test');
    expect(digBlocking(w.port, 'www.example.test')).toBe('');
  });

  it('close() stops the reader blocked in recvmmsg and frees the port', async () => {
    const w = await withReader(undefined, () => startWorld({}, { packetCache: true }));
    await warm(w, 'www.example.test');
    await w.server.close();
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(w.port, '127.0.0.1', () => resolve());
    });
    sock.close();
  });
});
