// The ResultWriter's in-memory 1-minute rollups (issue #12): a closed minute (older than
// 2 minutes) that is still being fed stays in memory across rollup writes (it was reloaded
// with a SELECT for every result), is dropped once untouched for two writes, and a late
// result reloads it: the stored row counts every sample exactly once either way.
import { afterEach, describe, expect, it } from 'vitest';
import { ResultWriter, type StoredResult } from '../../selector/store/results.js';
import { Store } from '../../selector/store/store.js';
import { SERVICE, tmpDb } from '../helpers/fixtures.js';

const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function row(ts: number, totalMs: number | null): StoredResult {
  return { agent: 'pop-a', service: SERVICE, site: 'us-east', ts, ok: totalMs !== null, status: totalMs !== null ? 200 : null, connectMs: 1, tlsMs: null,
    ttfbMs: 5, totalMs, bytes: 10, error: totalMs !== null ? null : 'reset' };
}

describe('ResultWriter rollups of closed minutes', () => {
  it('counts every sample once while a closed minute is fed across writes, after it is dropped, and after a late result reloads it', () => {
    const s = new Store(tmpDb());
    open.push(s);
    const minute = Math.floor(Date.now() / 60_000) - 10; // closed: older than 2 minutes
    const ts = minute * 60_000 + 1_000;
    const w = new ResultWriter(s, { maxRows: 1_000_000, rollupWriteMs: 0 });
    const stored = () => s.db.prepare('SELECT samples, failures, total_sum AS total, failure_classes AS classes FROM rollups WHERE minute = ?').get(minute);
    // Five writes, each with new results for the same closed minute.
    for (let i = 0; i < 5; i++) {
      w.addResults([row(ts + i, 10 + i), row(ts + i, null)]);
      w.flush();
      expect(stored()).toEqual({ samples: 2 * (i + 1), failures: i + 1, total: [10, 11, 12, 13, 14].slice(0, i + 1).reduce((a, b) => a + b, 0), classes: JSON.stringify({ reset: i + 1 }) });
    }
    // Two writes without it (other keys): dropped from memory; a late result reloads the row.
    for (let i = 0; i < 2; i++) {
      w.addResults([{ ...row(Date.now(), 30), site: 'eu-west' }]);
      w.flush();
    }
    w.addResults([row(ts + 9, 40)]);
    w.close();
    expect(stored()).toEqual({ samples: 11, failures: 5, total: 60 + 40, classes: JSON.stringify({ reset: 5 }) });
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM results').get()).toEqual({ n: 13 });
  });

  it('a writer started mid-minute adds to the row a previous writer left (restart), and writes a later minute without reading it', () => {
    const s = new Store(tmpDb());
    open.push(s);
    const minute = Math.floor(Date.now() / 60_000);
    const first = new ResultWriter(s, { maxRows: 1_000_000 });
    first.addResults([row(minute * 60_000 + 1, 10), row(minute * 60_000 + 2, null)]);
    first.close();
    const second = new ResultWriter(s, { maxRows: 1_000_000 });
    second.addResults([row(minute * 60_000 + 3, 20), row((minute + 1) * 60_000 + 1, 30)]);
    second.close();
    const rows = s.db.prepare('SELECT minute, samples, failures, total_sum AS total FROM rollups ORDER BY minute').all();
    expect(rows).toEqual([{ minute, samples: 3, failures: 1, total: 30 }, { minute: minute + 1, samples: 1, failures: 0, total: 30 }]);
  });
});
