// Runs Debian's dnsperf against a local DNS server for the benchmarks, with an EDNS
// Client Subnet option on every query, and returns its text report.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrefix } from '../shared/prefix.js';

/** dnsperf -E value for an ECS option (RFC 7871 §6): code 8, FAMILY, SOURCE, SCOPE=0, ADDRESS. */
export function ecsOption(prefix: string): string {
  const p = parsePrefix(prefix);
  const addr = Buffer.from(p.bytes.subarray(0, (p.length + 7) >> 3));
  return `8:${Buffer.concat([Buffer.from([0, p.family === 4 ? 1 : 2, p.length, 0]), addr]).toString('hex')}`;
}

export interface DnsperfRun {
  port: number;
  seconds: number;
  /** Query lines (`name TYPE`), repeated by dnsperf. */
  queries: string[];
  /** The client subnet every query carries. */
  ecs: string;
  /** Queries per second to offer (-Q); unlimited when absent. */
  qps?: number;
  /** -v: one line per query with its latency (for percentiles: latencyPercentiles()). */
  verbose?: boolean;
}

/**
 * Percentiles (ms) of the per-query latencies dnsperf -v prints, one line per response:
 * `> NOERROR www.example.test A 0.000123` (the last field, in seconds).
 */
export function latencyPercentiles(out: string, ps: readonly number[]): { count: number; ms: number[] } {
  const lat: number[] = [];
  for (const m of out.matchAll(/^> \S+ .* (\d+\.\d+)$/gm)) lat.push(Number(m[1]) * 1000);
  lat.sort((a, b) => a - b);
  return { count: lat.length, ms: ps.map((p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN) };
}

/** Resolves with dnsperf's output (or a line saying why it did not run); never rejects. */
export function runDnsperf(run: DnsperfRun): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-dnsperf-'));
  const data = join(dir, 'queries');
  writeFileSync(data, run.queries.join('\n') + '\n');
  const args = ['-s', '127.0.0.1', '-p', String(run.port), '-d', data, '-l', String(run.seconds), '-E', ecsOption(run.ecs)];
  if (run.qps !== undefined) args.push('-Q', String(run.qps));
  if (run.verbose) args.push('-v');
  // Output goes to a file, not a pipe: the benchmark's own event loop is what is being loaded,
  // and a pipe it does not drain (64 KiB; -v writes a line per query) would stall dnsperf
  // and show that stall as DNS latency.
  const outFile = join(dir, 'out');
  const fd = openSync(outFile, 'w');
  return new Promise((resolve) => {
    const child = spawn('dnsperf', args, { stdio: ['ignore', fd, fd] });
    let finished = false;
    const done = (text: string): void => {
      if (finished) return;
      finished = true;
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
      resolve(text);
    };
    child.on('error', (err) => done(`dnsperf not run: ${err.message}`));
    child.on('close', () => done(readFileSync(outFile, 'utf8')));
  });
}
