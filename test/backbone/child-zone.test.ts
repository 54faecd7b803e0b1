// Issue #11: `{label}.{service}` is delegated to the LB, so the LB is authoritative for
// it as a zone of its own: SOA (owner `{label}.{service}`) and NS (uplink.nameservers)
// at that name, and that SOA in NODATA / NXDOMAIN answers at and under it. The backbone,
// as the child's second name server, answers with the same SOA owner and MNAME. All
// checked with dig over real UDP, on an LB with DNS worker threads and one without.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SITES } from '../helpers/fixtures.js';
import { bootBackbone, bootLb, resetSeqs, SERVICE, type Closer } from './helpers.js';

const run = promisify(execFile);
const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

const ZONES = [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }];
const CHILD = `isp-a.${SERVICE}`;

interface Dug { status: string; aa: boolean; answer: string[][]; authority: string[][] }

async function dig(port: number, name: string, type: string): Promise<Dug> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), name, type, '+norecurse', '+noall', '+comments', '+answer', '+authority', '+tries=2', '+time=3']);
  const section = (title: string): string[][] => {
    const at = stdout.indexOf(`;; ${title} SECTION:`);
    if (at < 0) return [];
    return stdout.slice(at).split('\n').slice(1).filter((l) => l.trim()).map((l) => l.split(/\s+/)).filter((_, i, rows) => !rows.slice(0, i + 1).some((r) => r[0]?.startsWith(';')));
  };
  return {
    status: /status: (\w+)/.exec(stdout)?.[1] ?? 'none',
    aa: /flags:[^;]*\baa\b/.test(stdout),
    answer: section('ANSWER'),
    authority: section('AUTHORITY'),
  };
}

/** [owner, type, mname, rname] of an SOA row. */
const soa = (row: string[] | undefined): string[] => (row ? [row[0] ?? '', row[3] ?? '', row[4] ?? '', row[5] ?? ''] : []);

async function expectChildZone(port: number, nameservers: string[]): Promise<void> {
  const s = await dig(port, CHILD, 'SOA');
  expect(s).toMatchObject({ status: 'NOERROR', aa: true });
  expect(soa(s.answer[0])).toEqual([`${CHILD}.`, 'SOA', 'ns.isp-a.example.test.', 'hostmaster.example.test.']);
  const ns = await dig(port, CHILD, 'NS');
  expect(ns).toMatchObject({ status: 'NOERROR', aa: true });
  expect(ns.answer.map((r) => [r[0], r[3], r[4]])).toEqual(nameservers.map((n) => [`${CHILD}.`, 'NS', `${n}.`]));
  // NODATA at the child apex, NXDOMAIN under it: the child's SOA in authority (RFC 2308).
  const nodata = await dig(port, CHILD, 'TXT');
  expect(nodata).toMatchObject({ status: 'NOERROR', aa: true, answer: [] });
  expect(soa(nodata.authority[0])).toEqual([`${CHILD}.`, 'SOA', 'ns.isp-a.example.test.', 'hostmaster.example.test.']);
  const nx = await dig(port, `deeper.${CHILD}`, 'A');
  expect(nx).toMatchObject({ status: 'NXDOMAIN', aa: true, answer: [] });
  expect(soa(nx.authority[0])[0]).toBe(`${CHILD}.`);
  // The service name itself stays in the parent zone.
  const parent = await dig(port, SERVICE, 'TXT');
  expect(soa(parent.authority[0])[0]).toBe('example.test.');
}

describe('the child zone {label}.{service}', () => {
  it.each([['with DNS worker threads', undefined], ['in the main loop', 0]])('an LB answers SOA/NS/negatives for it as its apex (%s)', async (_what, workers) => {
    const bb = await bootBackbone(open);
    const a = await bootLb(open, bb, 'isp-a', {}, { dns: { listen: ['127.0.0.1:0'], zones: ZONES, ...(workers === undefined ? {} : { workers }) } });
    await expectChildZone(a.dnsPort, ['ns.isp-a.example.test']);
    // The A answer is unchanged: the service's sites (fail-open, nothing measured yet).
    const addr = await dig(a.dnsPort, CHILD, 'A');
    expect(addr.answer.map((r) => r[4])).toEqual(SITES.map((s) => s.address));
    // A label that is not this LB's: an unknown name of the parent zone.
    const other = await dig(a.dnsPort, `isp-b.${SERVICE}`, 'SOA');
    expect(other.status).toBe('NXDOMAIN');
    expect(soa(other.authority[0])[0]).toBe('example.test.');
  });

  it('the backbone as the second name server answers with the same child SOA owner and MNAME', async () => {
    const bb = await bootBackbone(open, { nameservers: [{ name: 'ns1.example.test', address: '127.0.0.1' }] });
    await bootLb(open, bb, 'isp-a');
    const port = bb.dnsAddresses()[0]?.port as number;
    // The NS set is the delegation's: the LB's name servers, then the backbone's.
    await expectChildZone(port, ['ns.isp-a.example.test', 'ns1.example.test']);
    // ANY at the child (RFC 8482: one RRset that exists), not NXDOMAIN.
    const any = await dig(port, CHILD, 'ANY');
    expect(any).toMatchObject({ status: 'NOERROR', aa: true });
    expect(soa(any.answer[0])[0]).toBe(`${CHILD}.`);
  });
});
