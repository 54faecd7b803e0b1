// Server-side SVG of a service's timelines (the simulator's timeline-svg.ts style, no
// chart engine): one panel per agent (POP), each site's latency as a line on a log
// scale, the first choice as a coloured band under the lines, site down/up and
// first-choice changes as markers whose <title> carries the evidence (hover).
import type { Timeline, TimelineRow } from '../../store/timeline.js';

const PANEL_PX = 150;
const BAND_PX = 10;
const LEFT_PX = 110;
const RIGHT_PX = 16;
const TOP_PX = 28;
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const MIN_MS = 1;
const MAX_MS = 5000;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

export function siteColours(sites: readonly string[]): Map<string, string> {
  return new Map(sites.map((s, i) => [s, PALETTE[i % PALETTE.length] as string]));
}

export function timelineSvg(t: Timeline, sites: readonly string[], widthPx: number): string {
  const width = Math.max(300, Math.min(4000, Math.floor(widthPx)));
  const plot = width - LEFT_PX - RIGHT_PX;
  const colours = siteColours(sites);
  const rows = t.rows;
  const height = TOP_PX + Math.max(1, rows.length) * (PANEL_PX + 24) + 8;
  const x = (ts: number): number => LEFT_PX + ((ts - t.sinceMs) / Math.max(1, t.untilMs - t.sinceMs)) * plot;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" data-service="${esc(t.service)}">`,
  ];
  // Legend: one swatch per site.
  let lx = LEFT_PX;
  for (const [site, colour] of colours) {
    out.push(`<rect x="${lx}" y="6" width="10" height="10" fill="${colour}"/><text x="${lx + 14}" y="15">${esc(site)}</text>`);
    lx += 24 + site.length * 7;
  }
  out.push(`<text x="${width - RIGHT_PX}" y="15" text-anchor="end" fill="#5b6475">${esc(clock(t.sinceMs))}–${esc(clock(t.untilMs))} UTC, ${t.source === 'raw' ? 'raw results' : '1-minute rollups'}, ${Math.round(t.bucketMs / 1000)} s per point</text>`);
  if (!rows.length) out.push(`<text x="${LEFT_PX}" y="${TOP_PX + 40}" fill="#5b6475">no measurements in this range</text>`);
  rows.forEach((row, i) => out.push(panel(row, TOP_PX + i * (PANEL_PX + 24), t, x, plot, colours)));
  out.push('</svg>');
  return out.join('\n');
}

/** A small triangle at the panel's top edge: pointing down for site_down, up for site_up. */
function triangle(cx: number, top: number, down: boolean): string {
  const [tip, base] = down ? [top + 10, top + 2] : [top + 2, top + 10];
  return `M${(cx - 5).toFixed(1)} ${base} L${(cx + 5).toFixed(1)} ${base} L${cx.toFixed(1)} ${tip} Z`;
}

function panel(row: TimelineRow, top: number, t: Timeline, x: (ts: number) => number, plot: number, colours: Map<string, string>): string {
  const linesPx = PANEL_PX - BAND_PX - 6;
  // Log scale: 1 ms at the bottom, 5 s at the top.
  const y = (ms: number): number => top + linesPx - (Math.log(Math.min(Math.max(ms, MIN_MS), MAX_MS)) / Math.log(MAX_MS)) * linesPx;
  const out: string[] = [`<g class="agent" data-agent="${esc(row.agent)}">`,
    `<rect x="${LEFT_PX}" y="${top}" width="${plot}" height="${linesPx}" fill="#fafbfc" stroke="#e1e4ea"/>`,
    `<text x="8" y="${top + 14}" font-weight="bold" font-size="12">${esc(row.agent)}</text>`];
  for (const ms of [10, 100, 1000]) out.push(`<line x1="${LEFT_PX}" x2="${LEFT_PX + plot}" y1="${y(ms).toFixed(1)}" y2="${y(ms).toFixed(1)}" stroke="#e1e4ea"/><text x="${LEFT_PX - 4}" y="${(y(ms) + 4).toFixed(1)}" text-anchor="end" fill="#5b6475">${ms} ms</text>`);
  for (const [site, series] of Object.entries(row.latencyMs)) {
    const colour = colours.get(site) ?? '#333';
    // Gaps (no successful probe in a bucket) break the line.
    let d = '';
    const dots: string[] = [];
    series.forEach((ms, b) => {
      if (ms === null) return;
      const px = x(t.sinceMs + (b + 0.5) * t.bucketMs).toFixed(1);
      const py = y(ms).toFixed(1);
      const joined = series[b - 1] != null;
      d += `${joined ? 'L' : 'M'}${px} ${py} `;
      // A point with no neighbour draws no segment: mark it with a dot.
      if (!joined && series[b + 1] == null) dots.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${colour}"/>`);
    });
    if (d) out.push(`<path class="latency" data-site="${esc(site)}" d="${d.trim()}" fill="none" stroke="${colour}" stroke-width="1.5"><title>${esc(site)} latency</title></path>${dots.join('')}`);
  }
  const bandY = top + linesPx + 4;
  out.push(`<text x="${LEFT_PX - 4}" y="${bandY + 9}" text-anchor="end" fill="#5b6475">first choice</text>`);
  for (const b of row.first) {
    const x0 = x(Math.max(b.fromMs, t.sinceMs));
    const w = Math.max(1, x(Math.min(b.toMs, t.untilMs)) - x0);
    out.push(`<rect class="first" data-site="${esc(b.site ?? '')}" x="${x0.toFixed(1)}" y="${bandY}" width="${w.toFixed(1)}" height="${BAND_PX}" fill="${b.site ? colours.get(b.site) ?? '#999' : '#ddd'}"><title>first choice ${esc(b.site ?? 'unknown')} ${esc(clock(b.fromMs))}–${esc(clock(b.toMs))}</title></rect>`);
  }
  for (const m of row.markers) {
    const mx = x(m.ts).toFixed(1);
    const fill = m.kind === 'site_down' ? '#b00020' : m.kind === 'site_up' ? '#1b7f3b' : '#1d2330';
    const shape = m.kind === 'first_changed'
      ? `<line x1="${mx}" x2="${mx}" y1="${top}" y2="${bandY + BAND_PX}" stroke="${fill}" stroke-dasharray="3 2"/>`
      : `<path d="${triangle(x(m.ts), top, m.kind === 'site_down')}" fill="${fill}"/>`;
    out.push(`<g class="marker" data-kind="${m.kind}" data-site="${esc(m.site ?? '')}">${shape}<title>${esc(`${clock(m.ts)} ${m.evidence}`)}</title></g>`);
  }
  out.push('</g>');
  return out.join('');
}
