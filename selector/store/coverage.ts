// Which data the store still holds: retention records, in `meta`, the time before which
// raw results (`raw`) or 1-minute rollups (`minute`) may have been removed. Queries pick
// the finest source that covers a whole period from these marks (metrics-query.ts).
import type { Store } from './store.js';

export type CoverageTier = 'raw' | 'minute';

const KEY: Readonly<Record<CoverageTier, string>> = { raw: 'raw_floor_ms', minute: 'minute_floor_ms' };

/** Raises the mark of `tier` to `ms` (never lowers it). */
export function setCoverageMark(store: Store, tier: CoverageTier, ms: number): void {
  store.prep(`INSERT INTO meta (key, value) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)`).run(KEY[tier], String(Math.floor(ms)));
}

/** Each tier holds everything from its mark on (0 = nothing was ever removed). */
export function coverageMarks(store: Store): Record<CoverageTier, number> {
  const get = (tier: CoverageTier): number => {
    const row = store.prep('SELECT value FROM meta WHERE key = ?').get(KEY[tier]) as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  };
  return { raw: get('raw'), minute: get('minute') };
}
