// Operator changes written to the database file of a stopped selector (changeVia's
// file mode): the same checks as the admin API (CatalogueAdmin, credentials) and the
// same JSON answers, so a command prints the same either way. The selector loads them
// at its next start (services, sites, drains, prefixes, credentials).
import { ExitCode } from '../../shared/errors.js';
import { AdminError, CatalogueAdmin } from '../admin/catalogue-admin.js';
import type { SelectorConfig } from '../config.js';
import { addAgent, removeAgent } from '../mqtt/credentials.js';
import type { Store } from '../store/store.js';
import { CommandExit } from './context.js';

type Config = Readonly<SelectorConfig>;

/** AdminError → the exit code the admin client gives the same HTTP status. */
function run<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AdminError) throw new CommandExit(err.status === 400 ? ExitCode.USAGE : ExitCode.FAILURE, err.message);
    throw err;
  }
}

function admin(store: Store, config: Config): CatalogueAdmin {
  return new CatalogueAdmin(store, config.dns.zones, undefined, config.prefixes);
}

export const fileChanges = {
  async addAgent(store: Store, id: string): Promise<{ id: string; password: string }> {
    return { id, password: await addAgent(store, id) };
  },
  removeAgent(store: Store, id: string): { id: string; removed: boolean } {
    return { id, removed: removeAgent(store, id) };
  },
  addService(store: Store, config: Config, body: unknown): unknown {
    const name = run(() => admin(store, config).addService(body));
    return store.listServices().find((s) => s.name === name);
  },
  updateSettings(store: Store, config: Config, name: string, body: unknown): unknown {
    run(() => admin(store, config).updateSettings(name, body));
    return store.listServices().find((s) => s.name === name);
  },
  removeService(store: Store, config: Config, name: string): unknown {
    run(() => admin(store, config).removeService(name));
    return { removed: name };
  },
  addSite(store: Store, config: Config, service: string, body: unknown): unknown {
    const id = run(() => admin(store, config).addSite(service, body));
    return store.listServices().find((s) => s.name === service)?.sites.find((s) => s.id === id);
  },
  removeSite(store: Store, config: Config, service: string, site: string): unknown {
    run(() => admin(store, config).removeSite(service, site));
    return { service, removed: site };
  },
  setDrained(store: Store, config: Config, service: string, site: string, drained: boolean): unknown {
    run(() => admin(store, config).setDrained(service, site, drained));
    return { service, site, drained };
  },
  addPrefix(store: Store, config: Config, prefix: string, agent: string): { prefix: string; agent: string; source: string } {
    return { prefix: run(() => admin(store, config).addPrefix(prefix, agent)), agent, source: 'admin' };
  },
  removePrefix(store: Store, config: Config, prefix: string): { removed: string } {
    run(() => admin(store, config).removePrefix(prefix));
    return { removed: prefix };
  },
};
