// node dist/bench/enrolment-check.js — cost of ingest's per-message "is this agent
// enrolled?" check (auth.agents: required): the old SQLite read of the password hash
// (Store.getCredentials) against the in-memory Enrolment the daemon now keeps.
// Prints ns per check; BENCH_AGENTS (200) enrolled agents, BENCH_CHECKS (200000) checks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Enrolment } from '../selector/mqtt/credentials.js';
import { Store } from '../selector/store/store.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 200);
const CHECKS = Number(process.env.BENCH_CHECKS ?? 200_000);

const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-'));
const store = new Store(join(dir, 'selector.db'));
try {
  for (let i = 0; i < AGENTS; i++) store.setCredentials(`pop-${i}`, Buffer.alloc(32, i), Buffer.alloc(16, i));
  const enrolment = new Enrolment(store);
  const ids = Array.from({ length: AGENTS }, (_, i) => `pop-${i}`);
  const ways: [string, (id: string) => boolean][] = [
    ['sqlite Store.getCredentials', (id) => store.getCredentials(id) !== undefined],
    ['memory Enrolment.has', (id) => enrolment.has(id)],
  ];
  for (const [name, check] of ways) {
    let ok = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHECKS; i++) if (check(ids[i % AGENTS] as string)) ok++;
    const ns = Number(process.hrtime.bigint() - t0) / CHECKS;
    process.stdout.write(`${name}: ${ns.toFixed(0)} ns per check (${ok}/${CHECKS} enrolled)\n`);
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
