// `vantage-selector prefixes list|add|remove`: the client prefix → agent map
// (configured, admin-added and announced prefixes).
import type { Command } from 'commander';
import type { PrefixView } from '../store/store.js';
import { addTargetOptions, changeVia, printJson, readFrom, type TargetOptions } from './admin-client.js';
import { fileChanges } from './file-changes.js';
import { table } from './format.js';

const SOURCE_NAMES: Record<string, string> = { static: 'config', admin: 'admin', announced: 'announced' };

export function registerPrefixes(program: Command): void {
  const prefixes = program.command('prefixes').description('list, add and remove client prefixes mapped to agents');
  addTargetOptions(prefixes.command('list').description('list client prefixes and the agent each maps to'), { db: true })
    .action(async (opts: TargetOptions) => {
      const list = await readFrom(opts, (c) => c.get<PrefixView[]>('api/prefixes'), (store) => store.listPrefixes());
      if (opts.json) return printJson(list);
      process.stdout.write(table(['PREFIX', 'AGENT', 'SOURCE'], list.map((p) => [p.prefix, p.agent, SOURCE_NAMES[p.source] ?? p.source])));
    });
  addTargetOptions(prefixes.command('add').description('map a client prefix to an agent (wins over announced prefixes)')
    .argument('<prefix>', 'e.g. 198.51.100.0/24').argument('<agent>', 'agent id'))
    .action(async (prefix: string, agent: string, opts: TargetOptions) => {
      const out = await changeVia(opts, (c) => c.request<{ prefix: string }>('POST', 'api/prefixes', { prefix, agent }),
        (store, config) => fileChanges.addPrefix(store, config, prefix, agent));
      if (opts.json) return printJson(out);
      process.stdout.write(`prefix ${out.prefix} mapped to ${agent}\n`);
    });
  addTargetOptions(prefixes.command('remove').description('remove a prefix added with `prefixes add`').argument('<prefix>'))
    .action(async (prefix: string, opts: TargetOptions) => {
      const out = await changeVia(opts, (c) => c.request<{ removed: string }>('DELETE', `api/prefixes?prefix=${encodeURIComponent(prefix)}`),
        (store, config) => fileChanges.removePrefix(store, config, prefix));
      if (opts.json) return printJson(out);
      process.stdout.write(`prefix ${out.removed} removed\n`);
    });
}
