// `vantage-selector top`: a live terminal view refreshed every second — queries/s,
// answers by site, agents and their freshness. q or Ctrl-C quits; --once prints one
// frame (two samples a second apart, for rates) and exits.
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentView } from '../admin/agents-view.js';
import { addTargetOptions, adminClient, printJson, type AdminClient, type TargetOptions } from './admin-client.js';
import { age, table } from './format.js';

interface Stats {
  ts: number;
  queries: number;
  byRcode: Record<string, number>;
  answersBySite: Record<string, Record<string, number>>;
  agents: AgentView[];
}

export interface TopFrame {
  ts: number;
  queriesPerS: number;
  queries: number;
  answers: { service: string; site: string; perS: number; total: number }[];
  agents: AgentView[];
}

export function topFrame(prev: Stats, cur: Stats): TopFrame {
  const dtS = Math.max(0.001, (cur.ts - prev.ts) / 1000);
  const answers: TopFrame['answers'] = [];
  for (const [service, bySite] of Object.entries(cur.answersBySite)) {
    for (const [site, total] of Object.entries(bySite)) {
      answers.push({ service, site, total, perS: (total - (prev.answersBySite[service]?.[site] ?? 0)) / dtS });
    }
  }
  answers.sort((a, b) => a.service.localeCompare(b.service) || b.total - a.total);
  return { ts: cur.ts, queries: cur.queries, queriesPerS: (cur.queries - prev.queries) / dtS, answers, agents: cur.agents };
}

export function renderTop(f: TopFrame): string {
  const lines = [
    `vantage-selector top — ${new Date(f.ts).toISOString()}   (q or Ctrl-C to quit)`,
    '',
    `queries/s: ${f.queriesPerS.toFixed(1)}   total queries: ${f.queries}`,
    '',
    'answers by first site',
    f.answers.length ? table(['SERVICE', 'SITE', 'ANSWERS/S', 'TOTAL'], f.answers.map((a) => [a.service, a.site, a.perS.toFixed(1), String(a.total)])).trimEnd() : '  (none yet)',
    '',
    'agents',
    f.agents.length ? table(['AGENT', 'POP', 'STATE', 'DATA AGE', 'INTERVAL'], f.agents.map((a) => [a.id, a.pop ?? '–', a.state, age(a.dataAgeS), a.intervalS ? `${a.intervalS}s` : '–'])).trimEnd() : '  (none yet)',
  ];
  return `${lines.join('\n')}\n`;
}

async function live(client: AdminClient): Promise<void> {
  const out = process.stdout;
  const input = process.stdin;
  let stop = false;
  let wake: (() => void) | undefined;
  const quit = (): void => {
    stop = true;
    wake?.();
  };
  if (input.isTTY) input.setRawMode(true);
  input.resume();
  const onKey = (d: Buffer): void => {
    const s = d.toString();
    if (s === 'q' || s === 'Q' || s.includes('\u0003')) quit();
  };
  input.on('data', onKey);
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  out.write('\x1b[?25l');
  try {
    let prev = await client.get<Stats>('api/stats');
    while (!stop) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        sleep(1000).then(() => resolve());
      });
      if (stop) break;
      const cur = await client.get<Stats>('api/stats');
      out.write(`\x1b[H\x1b[2J${renderTop(topFrame(prev, cur))}`);
      prev = cur;
    }
  } finally {
    out.write('\x1b[?25h');
    input.off('data', onKey);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
}

export function registerTop(program: Command): void {
  addTargetOptions(program.command('top').description('live view: queries/s, answers by site, agents and freshness'))
    .option('--once', 'print one frame and exit')
    .action(async (opts: TargetOptions & { once?: boolean }) => {
      const client = adminClient(opts);
      if (!opts.once) return live(client);
      const a = await client.get<Stats>('api/stats');
      await sleep(1000);
      const frame = topFrame(a, await client.get<Stats>('api/stats'));
      if (opts.json) return printJson(frame);
      process.stdout.write(renderTop(frame));
    });
}
