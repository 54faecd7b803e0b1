// `vantage-selector events [--since 1h] [--agent ID] [--json]`: the decision log with evidence.
import type { Command } from 'commander';
import { queryEvents, type EventView } from '../store/events-query.js';
import { addTargetOptions, printJson, readFrom, type TargetOptions } from './admin-client.js';
import { parseDuration, table, time } from './format.js';
import { ExitCode } from '../../shared/errors.js';
import { CommandExit } from './context.js';

export function registerEvents(program: Command): void {
  addTargetOptions(program.command('events').description('decision log: sites down/up per agent, first choice changes, agents online/stale/offline'), { db: true })
    .option('--since <duration>', 'period: 30s, 15m, 1h, 2d', '1h')
    .option('--agent <id>', "only this agent's entries (its sites down/up, first choice changes, online/stale/offline)")
    .action(async (opts: TargetOptions & { since: string; agent?: string }) => {
      const sinceMs = parseDuration('--since', opts.since);
      const agent = opts.agent ? `&agent=${encodeURIComponent(opts.agent)}` : '';
      const list = await readFrom(opts, (c) => c.get<EventView[]>(`api/events?sinceMs=${sinceMs}${agent}`), (store) => {
        if (opts.agent && !store.getAgent(opts.agent)) throw new CommandExit(ExitCode.FAILURE, `unknown agent "${opts.agent}"`, { code: 'ADMIN_ERR_NOT_FOUND' });
        return queryEvents(store, Date.now() - sinceMs, { agent: opts.agent });
      });
      if (opts.json) return printJson(list);
      if (!list.length) {
        process.stdout.write(`no events in the last ${opts.since}${opts.agent ? ` for agent ${opts.agent}` : ''}\n`);
        return;
      }
      process.stdout.write(table(['TIME', 'EVENT', 'AGENT', 'SERVICE', 'SITE', 'EVIDENCE'],
        list.map((e) => [time(e.ts), e.kind, e.agent ?? '–', e.service ?? '–', e.site ?? '–', e.evidence || '–'])));
    });
}
