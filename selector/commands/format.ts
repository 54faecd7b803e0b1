// Output helpers for the operator commands: aligned tables, durations, sparklines,
// and the `--since 15m` parser (one-line errors through ArgumentError).
import { ArgumentError } from '../../shared/errors.js';

const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m" → 900000. Accepts s, m, h, d. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  const n = m ? Number(m[1]) * (UNITS_MS[m[2] as string] as number) : NaN;
  if (!m || !(n >= 1000)) throw new ArgumentError(`${flag}: expected a duration like 30s, 15m, 1h or 2d, got "${text}"`);
  return Math.round(n);
}

/** Right-aligns columns whose every body cell looks numeric. */
export function table(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.]+( ?(ms|s|%))?$|^–$/.test(r[i] ?? '')));
  const line = (cells: string[]): string => cells.map((c, i) => {
    const pad = (width[i] as number) - [...c].length;
    return numeric[i] ? ' '.repeat(pad) + c : c + ' '.repeat(pad);
  }).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${(Math.round(v * 10) / 10).toFixed(1)}`;
}

export function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${seconds.toFixed(1)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

export function time(ts: number | null | undefined): string {
  return ts ? new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–';
}

const BARS = '▁▂▃▄▅▆▇█';

/** One character per point: bar height by value (min..max of the row), × = only failures, space = no data. */
export function sparkline(series: readonly (number | null)[]): string {
  const vals = series.filter((v): v is number => v !== null && v >= 0);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  return series.map((v) => {
    if (v === null) return ' ';
    if (v < 0) return '×';
    const i = hi > lo ? Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1)) : 0;
    return BARS[i] as string;
  }).join('');
}
