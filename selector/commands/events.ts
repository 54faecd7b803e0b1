// `vantage-selector events [--since 1h] [--json]`: the decision log with evidence.
import type { Command } from 'commander';
import { queryEvents, type EventView } from '../store/events-query.js';
import { addTargetOptions, printJson, readFrom, type TargetOptions } from './admin-client.js';
import { parseDuration, table, time } from './format.js';

export function registerEvents(program: Command): void {
  addTargetOptions(program.command('events').description('decision log: sites down/up per agent, first choice changes, agents online/stale/offline'), { db: true })
    .option('--since <duration>', 'period: 30s, 15m, 1h, 2d', '1h')
    .action(async (opts: TargetOptions & { since: string }) => {
      const sinceMs = parseDuration('--since', opts.since);
      const list = await readFrom(opts, (c) => c.get<EventView[]>(`api/events?sinceMs=${sinceMs}`), (store) => queryEvents(store, Date.now() - sinceMs));
      if (opts.json) return printJson(list);
      if (!list.length) {
        process.stdout.write(`no events in the last ${opts.since}\n`);
        return;
      }
      process.stdout.write(table(['TIME', 'EVENT', 'AGENT', 'SERVICE', 'SITE', 'EVIDENCE'],
        list.map((e) => [time(e.ts), e.kind, e.agent ?? '–', e.service ?? '–', e.site ?? '–', e.evidence || '–'])));
    });
}
