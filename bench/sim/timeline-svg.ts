// One SVG timeline per POP: a lane per site; the oracle best site as a green band,
// the site Vantage answered first as a blue line, events shaded in their site's lane.
import type { World } from './world.js';
import { affectsPop, eventEndS } from './conditions.js';
import { oracleBest } from './oracle.js';
import type { Sample } from './score.js';

const LANE_PX = 34;
const LEFT_PX = 120;
const WIDTH_PX = 960;
const TOP_PX = 40;
const EVENT_FILL: Record<string, string> = { slow: '#f6d365', load: '#f0a868', down: '#e57373', reset: '#ba68c8' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function timelineSvg(world: World, popId: string, samples: readonly Sample[]): string {
  const mine = samples.filter((s) => s.pop === popId);
  const plotPx = WIDTH_PX - LEFT_PX - 20;
  const x = (tS: number): number => LEFT_PX + (tS / world.durationS) * plotPx;
  const lane = new Map(world.sites.map((s, i) => [s.id, TOP_PX + i * LANE_PX]));
  const heightPx = TOP_PX + world.sites.length * LANE_PX + 50;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${heightPx}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(world.name)} — ${esc(popId)}: site answered first (blue) vs best site (green)</text>`,
  ];
  for (const [site, y] of lane) {
    out.push(`<rect x="${LEFT_PX}" y="${y}" width="${plotPx}" height="${LANE_PX - 4}" fill="#f4f4f4"/>`);
    out.push(`<text x="10" y="${y + LANE_PX / 2 + 2}">${esc(site)}</text>`);
  }
  for (const ev of world.events) {
    const y = lane.get(ev.site);
    if (y === undefined || !affectsPop(ev, popId)) continue;
    const x0 = x(ev.atS);
    const w = Math.max(1, x(eventEndS(world, ev)) - x0);
    const label = ev.extraMs ? `${ev.kind} +${ev.extraMs} ms` : ev.kind;
    out.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${LANE_PX - 4}" fill="${EVENT_FILL[ev.kind]}" opacity="0.6"><title>${esc(label)}</title></rect>`);
    // Short events (flaps) keep their label in the tooltip only, so labels never overlap.
    if (w >= 70) out.push(`<text x="${(x0 + 3).toFixed(1)}" y="${y + 11}" font-size="10">${esc(label)}</text>`);
  }
  const step = plotPx / world.durationS;
  for (const sample of mine) {
    const best = oracleBest(world, popId, sample.tS);
    for (const site of best?.sites ?? []) {
      const y = lane.get(site);
      if (y !== undefined) out.push(`<rect x="${x(sample.s).toFixed(1)}" y="${y + 14}" width="${step.toFixed(2)}" height="8" fill="#43a047"/>`);
    }
    const chosen = sample.answers.vantage;
    const y = chosen === null ? undefined : lane.get(chosen);
    if (y !== undefined) out.push(`<rect x="${x(sample.s).toFixed(1)}" y="${y + 20}" width="${step.toFixed(2)}" height="4" fill="#1e63c4"/>`);
    else out.push(`<text x="${x(sample.s).toFixed(1)}" y="${TOP_PX - 4}" fill="#c62828">×</text>`);
  }
  const axisY = TOP_PX + world.sites.length * LANE_PX + 14;
  const tick = world.durationS <= 60 ? 10 : world.durationS <= 300 ? 30 : 60;
  for (let t = 0; t <= world.durationS; t += tick) out.push(`<text x="${x(t).toFixed(1)}" y="${axisY}" text-anchor="middle">${t}s</text>`);
  out.push(`<text x="${LEFT_PX}" y="${axisY + 20}">green: best site · blue: Vantage's first answer · shaded: events (slow, load, down, reset) · red ×: no answer</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
