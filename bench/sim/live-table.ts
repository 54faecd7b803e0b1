// The demo's live view: every world second, each POP, the site Vantage sends it to,
// the best site, and the agent's latest measurement of every site; events are
// announced as they start and end.
import type { Writable } from 'node:stream';
import type { World, WorldEvent } from './world.js';
import { eventEndS } from './conditions.js';
import { oracleBest } from './oracle.js';
import type { Observer } from './observer.js';
import type { Sample } from './score.js';

const pad = (s: string, n: number): string => (s.length >= n ? `${s.slice(0, n - 1)} ` : s + ' '.repeat(n - s.length));

export function describeEvent(ev: WorldEvent): string {
  const who = ev.pops ? ev.pops.join(', ') : 'every POP';
  switch (ev.kind) {
    case 'slow': return `${ev.site} is ${ev.extraMs} ms slower from ${who} (path congestion)`;
    case 'load': return `${ev.site} is loaded: ${ev.extraMs} ms slower for every POP`;
    case 'down': return `${ev.site} is down for ${who} (connections reset at once)`;
    case 'reset': return `${ev.site} resets connections mid-response for ${who}`;
  }
}

export interface LiveTable {
  second(s: number, samples: readonly Sample[]): void;
}

export function createLiveTable(world: World, out: Writable, observer: Observer | undefined, opts: { clear: boolean }): LiveTable {
  const news: string[] = [];
  const announced = new Set<string>();
  const siteW = Math.max(10, ...world.sites.map((s) => s.id.length + 2));
  const popW = Math.max(10, ...world.pops.map((p) => p.id.length + 2));
  return {
    second(s, samples) {
      world.events.forEach((ev, i) => {
        if (s >= ev.atS && !announced.has(`start${i}`)) {
          announced.add(`start${i}`);
          news.push(`[${s}s] EVENT: ${describeEvent(ev)}${ev.untilS !== undefined ? ` until ${ev.untilS}s` : ''}`);
        }
        if (s >= eventEndS(world, ev) && !announced.has(`end${i}`)) {
          announced.add(`end${i}`);
          news.push(`[${s}s] ended: ${describeEvent(ev)}`);
        }
      });
      const lines: string[] = [];
      lines.push(`Vantage demo — world "${world.name}"  t = ${s}s / ${world.durationS}s`);
      lines.push('');
      lines.push(pad('POP', popW) + pad('sent to', siteW + 2) + pad('best', siteW) + 'latest measurements from the POP (ms)');
      lines.push(' '.repeat(popW + siteW * 2 + 2) + world.sites.map((x) => pad(x.id, siteW)).join(''));
      for (const sample of samples) {
        const best = oracleBest(world, sample.pop, sample.tS);
        const chosen = sample.answers.vantage ?? '(none)';
        const mark = best?.sites.includes(chosen) ? ' ✓' : ' ✗';
        const measured = world.sites.map((site) => {
          const r = observer?.latest(sample.pop).get(site.id);
          const text = !r ? '-' : r.ok ? (r.totalMs ?? 0).toFixed(0) : (r.error ?? 'fail');
          return pad(text, siteW);
        }).join('');
        lines.push(pad(sample.pop, popW) + pad(chosen + mark, siteW + 2) + pad(best?.sites[0] ?? '(none up)', siteW) + measured);
      }
      lines.push('');
      lines.push(...news.slice(-8));
      const text = `${lines.join('\n')}\n`;
      out.write(opts.clear ? `\x1b[2J\x1b[H${text}` : `${text}\n`);
    },
  };
}
