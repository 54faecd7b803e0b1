// `vantage-selector services list|add|remove` and `sites list|add|remove|drain|undrain`:
// the catalogue through the admin API (changes are persisted, re-ranked and
// re-published to agents by the daemon), or the database file of --config while the
// selector is stopped; `list` also reads a database with --db.
import type { Command } from 'commander';
import { ArgumentError } from '../../shared/errors.js';
import type { ServiceView, SiteView } from '../store/store.js';
import { addTargetOptions, changeVia, printJson, readFrom, type TargetOptions } from './admin-client.js';
import { fileChanges } from './file-changes.js';
import { table } from './format.js';

type Opts = TargetOptions & Record<string, unknown>;

function num(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || v.trim() === '') throw new ArgumentError(`${flag}: expected a number, got "${v}"`);
    return n;
  };
}

/** `ADDRESS` or `ADDRESS,ADDRESS` (a dual-stack site) as the site body's address fields. */
function addressFields(text: string): { address: string } | { addresses: string[] } {
  const list = text.split(',').map((a) => a.trim());
  return list.length > 1 ? { addresses: list } : { address: text };
}

function siteArg(v: string, prev: object[] = []): object[] {
  const m = /^([^=]+)=(.+)$/.exec(v);
  if (!m) throw new ArgumentError(`--site: expected ID=ADDRESS[,ADDRESS], got "${v}"`);
  return [...prev, { id: m[1] as string, ...addressFields(m[2] as string) }];
}

function capacityArg(v: string): { share: number } | { rps: number } {
  const m = /^(share|rps)=(.+)$/.exec(v);
  if (!m) throw new ArgumentError(`--capacity: expected share=F or rps=N, got "${v}"`);
  const n = num('--capacity')(m[2] as string);
  return m[1] === 'share' ? { share: n } : { rps: n };
}

function sitesTable(svc: ServiceView): string[][] {
  return svc.sites.map((s: SiteView) => [svc.name, s.id, (s.addresses ?? [s.address]).join(','), String(s.cost), String(s.weight), s.drained ? 'drained' : 'active', s.source]);
}

export function registerCatalogue(program: Command): void {
  const services = program.command('services').description('list, add and remove load-balanced services');
  addTargetOptions(services.command('list').description('list services and their sites'), { db: true })
    .action(async (opts: Opts) => {
      const list = await readFrom(opts, (c) => c.get<ServiceView[]>('api/services'), (store) => store.listServices());
      if (opts.json) return printJson(list);
      process.stdout.write(table(['SERVICE', 'TTL', 'ANSWERS', 'POLICY', 'PROBE', 'SITES', 'SOURCE'], list.map((s) => {
        const p = s.probe as { scheme: string; port: number; path: string };
        return [s.name, String(s.ttl), String(s.answers), s.policy, `${p.scheme}:${p.port}${p.path}`,
          s.sites.map((x) => `${x.id}${x.drained ? ' (drained)' : ''}`).join(', ') || '–', s.source];
      })));
    });
  addTargetOptions(services.command('add').description('add a service (persisted; published to agents)').argument('<name>', 'DNS name inside a configured zone'))
    .option('--ttl <s>', 'answer TTL in seconds', num('--ttl'))
    .option('--answers <n>', 'addresses per answer', num('--answers'))
    .option('--policy <policy>', 'latency | availability | cost | weighted')
    .option('--answer-set <mode>', 'band (the best site and those as good; default) | ordered (plain top-N)')
    .option('--ttl-unsettled <s>', 'TTL while the answer is unsettled (default ttl/4, at least 5)', num('--ttl-unsettled'))
    .option('--mode <mode>', 'sites (default) | proxy (answer with the mapped agent\'s proxy-cache)')
    .option('--scheme <scheme>', 'probe scheme: http | https')
    .option('--port <port>', 'probe port', num('--port'))
    .option('--path <path>', 'probe path')
    .option('--site <id=address>', 'a site (repeatable); id=v4,v6 for a dual-stack site', siteArg)
    .action(async (name: string, opts: Opts) => {
      const probe = Object.fromEntries(Object.entries({ scheme: opts.scheme, port: opts.port, path: opts.path }).filter(([, v]) => v !== undefined));
      const body = Object.fromEntries(Object.entries({ name, ttl: opts.ttl, answers: opts.answers, policy: opts.policy, answerSet: opts.answerSet, ttlUnsettled: opts.ttlUnsettled, mode: opts.mode, probe: Object.keys(probe).length ? probe : undefined, sites: opts.site }).filter(([, v]) => v !== undefined));
      const out = await changeVia(opts, (c) => c.request<ServiceView>('POST', 'api/services', body),
        (store, config) => fileChanges.addService(store, config, body) as ServiceView);
      if (opts.json) return printJson(out);
      process.stdout.write(`service ${out.name} added with ${out.sites.length} site(s)\n`);
    });
  addTargetOptions(services.command('set').description('change answer settings of a service added through the admin API (published with the catalogue)').argument('<name>', 'service name'))
    .option('--ttl <s>', 'answer TTL in seconds', num('--ttl'))
    .option('--answers <n>', 'addresses per answer', num('--answers'))
    .option('--policy <policy>', 'latency | availability | cost | weighted')
    .option('--answer-set <mode>', 'band | ordered')
    .option('--ttl-unsettled <s>', 'TTL while the answer is unsettled; "default" = ttl/4, at least 5', (v: string) => (v === 'default' ? v : num('--ttl-unsettled')(v)))
    .option('--mode <mode>', 'sites | proxy')
    .action(async (name: string, opts: Opts) => {
      const body = Object.fromEntries(Object.entries({ ttl: opts.ttl, answers: opts.answers, policy: opts.policy, answerSet: opts.answerSet, ttlUnsettled: opts.ttlUnsettled === 'default' ? null : opts.ttlUnsettled, mode: opts.mode }).filter(([, v]) => v !== undefined));
      if (!Object.keys(body).length) throw new ArgumentError('services set: give at least one of --ttl, --answers, --policy, --answer-set, --ttl-unsettled, --mode');
      const out = await changeVia(opts, (c) => c.request<ServiceView>('POST', `api/services/${encodeURIComponent(name)}/settings`, body),
        (store, config) => fileChanges.updateSettings(store, config, name, body) as ServiceView);
      if (opts.json) return printJson(out);
      process.stdout.write(`service ${out.name}: ttl ${out.ttl}, answers ${out.answers}, policy ${out.policy}, answer set ${out.answerSet}, ttl unsettled ${out.ttlUnsettled ?? 'default'}, mode ${out.mode}\n`);
    });
  addTargetOptions(services.command('remove').description('remove a service added through the admin API').argument('<name>', 'service name'))
    .action(async (name: string, opts: Opts) => {
      const out = await changeVia(opts, (c) => c.request('DELETE', `api/services/${encodeURIComponent(name)}`),
        (store, config) => fileChanges.removeService(store, config, name));
      if (opts.json) return printJson(out);
      process.stdout.write(`service ${name} removed\n`);
    });

  const sites = program.command('sites').description('list, add, remove, drain and undrain the sites of a service');
  addTargetOptions(sites.command('list').description('list sites (all services, or one)').argument('[service]', 'service name'), { db: true })
    .action(async (service: string | undefined, opts: Opts) => {
      const list = await readFrom(opts, (c) => c.get<ServiceView[]>('api/services'), (store) => store.listServices());
      const chosen = service ? list.filter((s) => s.name === service) : list;
      if (service && !chosen.length) throw new ArgumentError(`unknown service "${service}"`);
      if (opts.json) return printJson(chosen.flatMap((s) => s.sites.map((x) => ({ service: s.name, ...x }))));
      process.stdout.write(table(['SERVICE', 'SITE', 'ADDRESS', 'COST', 'WEIGHT', 'STATE', 'SOURCE'], chosen.flatMap(sitesTable)));
    });
  addTargetOptions(sites.command('add').description('add a site to a service').argument('<service>').argument('<site>', 'site id').argument('<address>', 'IP address, or v4,v6 for a dual-stack site'))
    .option('--cost <n>', 'static cost (policy cost)', num('--cost'))
    .option('--weight <n>', 'weight (policy weighted)', num('--weight'))
    .option('--capacity <share=F|rps=N>', 'capacity: a share of the demand (0 < F <= 1) or demand units', capacityArg)
    .action(async (service: string, id: string, address: string, opts: Opts) => {
      const body = Object.fromEntries(Object.entries({ id, ...addressFields(address), cost: opts.cost, weight: opts.weight, capacity: opts.capacity }).filter(([, v]) => v !== undefined));
      const out = await changeVia(opts, (c) => c.request('POST', `api/services/${encodeURIComponent(service)}/sites`, body),
        (store, config) => fileChanges.addSite(store, config, service, body));
      if (opts.json) return printJson(out);
      process.stdout.write(`site ${id} (${address}) added to ${service}\n`);
    });
  addTargetOptions(sites.command('remove').description('remove a site added through the admin API').argument('<service>').argument('<site>'))
    .action(async (service: string, site: string, opts: Opts) => {
      const out = await changeVia(opts, (c) => c.request('DELETE', `api/services/${encodeURIComponent(service)}/sites/${encodeURIComponent(site)}`),
        (store, config) => fileChanges.removeSite(store, config, service, site));
      if (opts.json) return printJson(out);
      process.stdout.write(`site ${site} removed from ${service}\n`);
    });
  for (const op of ['drain', 'undrain'] as const) {
    addTargetOptions(sites.command(op)
      .description(op === 'drain' ? 'stop answering with a site (persisted; agents are told via the catalogue)' : 'answer with a drained site again')
      .argument('<service>').argument('<site>'))
      .action(async (service: string, site: string, opts: Opts) => {
        const out = await changeVia(opts, (c) => c.request('POST', `api/services/${encodeURIComponent(service)}/sites/${encodeURIComponent(site)}/${op}`),
          (store, config) => fileChanges.setDrained(store, config, service, site, op === 'drain'));
        if (opts.json) return printJson(out);
        process.stdout.write(`site ${site} of ${service} ${op}ed\n`);
      });
  }
}
