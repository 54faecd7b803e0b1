// `vantage-selector agents list`: added to the `agents` group of commands/agents.ts.
import type { Command } from 'commander';
import { agentsView, type AgentView } from '../admin/agents-view.js';
import { addTargetOptions, printJson, readFrom, staleIntervalsOf, type TargetOptions } from './admin-client.js';
import { age, table, time } from './format.js';

export function registerAgentsList(program: Command): void {
  const agents = program.commands.find((c) => c.name() === 'agents') ?? program.command('agents').description('measurement agents');
  addTargetOptions(agents.command('list').description('agents with state (online/stale/offline), last seen, data age and announcements'), { db: true })
    .action(async (opts: TargetOptions) => {
      const list = await readFrom(opts, (c) => c.get<AgentView[]>('api/agents'), (store) => agentsView(store, Date.now(), staleIntervalsOf(opts)));
      if (opts.json) return printJson(list);
      process.stdout.write(table(['AGENT', 'POP', 'STATE', 'LAST SEEN', 'DATA AGE', 'ADDRESSES', 'PREFIXES', 'RESOLVERS'], list.map((a) => [
        a.id, a.pop ?? '–', a.state, time(a.lastSeen), age(a.dataAgeS),
        a.addresses.join(',') || '–', a.prefixes.join(',') || '–', a.resolvers.join(',') || '–',
      ])));
    });
}
