// Catalogue replication between selectors sharing a broker (DESIGN.md "Replicas and
// clustered brokers"): the retained catalogue topic is the source of truth. Every
// catalogue carries (rev, origin): rev is a Lamport counter persisted in SQLite — a
// change made here takes max(seen) + 1 — and the higher (rev, origin) wins, so an old
// retained message (a replica restarting with an older state) never beats a newer
// change. On receipt: newer → applied here (apply.ts); older → ours is republished, so
// the retained topic ends on the newest; equal → nothing. After a connect we give the
// broker settleMs to deliver the retained catalogue before publishing ours.
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import { parseCatalogue, type Catalogue } from '../../shared/protocol.js';
import { countRejections } from '../../shared/catalogue-settings.js';
import type { CatalogueAdmin } from '../admin/catalogue-admin.js';
import type { CatalogueSyncCounters } from '../admin/broker-metrics.js';
import type { ServiceConfig } from '../config.js';
import { buildCatalogue } from '../mqtt/catalogue.js';
import type { ServiceRecord, Store } from '../store/store.js';
import { adminPrefixList, applyCatalogue } from './apply.js';

export interface CatalogueSyncDeps {
  store: Store;
  admin: CatalogueAdmin;
  /** selector.yaml services: their hash tells replicas with different static catalogues apart. */
  configServices: readonly ServiceConfig[];
  /** The services the selector serves now (engine.serviceList()). */
  services(): readonly ServiceRecord[];
  /** Publishes the retained catalogue (bus.publishRetained). */
  publish(payload: string): Promise<void>;
  /** Called after a remote catalogue changed the database: reload services and re-rank. */
  applied(): void;
  log: Logger;
  /** False with the embedded broker (no other selector can share it): the plain v1 catalogue is published. */
  replicate: boolean;
  settleMs?: number;
}

interface Version { rev: number; origin: string }

const newer = (a: Version, b: Version): boolean => a.rev > b.rev || (a.rev === b.rev && a.origin > b.origin);

export function createCatalogueSync(deps: CatalogueSyncDeps) {
  const { store, log } = deps;
  const db = store.db;
  const getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
  const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  const meta = (key: string): string | undefined => (getMeta.get(key) as { value: string } | undefined)?.value;

  let id = meta('replica_id');
  if (!id) setMeta.run('replica_id', (id = `sel-${randomBytes(6).toString('hex')}`));
  const replicaId = id;
  const configHash = createHash('sha256').update(JSON.stringify(deps.configServices)).digest('hex').slice(0, 16);
  const current: Version = { rev: Number(meta('catalogue_rev') ?? 0), origin: meta('catalogue_origin') ?? replicaId };
  const counters: CatalogueSyncCounters = { applied: 0, older: 0, conflicts: 0, invalid: 0, rev: current.rev, settingsRejected: {} };
  const conflictsLogged = new Set<string>();
  let settle: NodeJS.Timeout | undefined;
  let seenSinceConnect = false;

  const save = (): void => {
    db.transaction(() => {
      setMeta.run('catalogue_rev', String(current.rev));
      setMeta.run('catalogue_origin', current.origin);
    })();
    counters.rev = current.rev;
  };

  function payload(): Catalogue {
    if (!deps.replicate) return buildCatalogue(deps.services(), Date.now());
    return buildCatalogue(deps.services(), Date.now(), { rev: current.rev, origin: current.origin, configHash, prefixes: adminPrefixList(store) });
  }

  async function publishCurrent(): Promise<void> {
    await deps.publish(JSON.stringify(payload()));
  }

  /** A change made on this replica (admin API, or a changed selector.yaml at start). */
  async function localChange(): Promise<void> {
    current.rev += 1;
    current.origin = replicaId;
    save();
    await publishCurrent();
  }

  function onCatalogue(raw: Buffer): void {
    seenSinceConnect = true;
    // The topic cleared (an empty retained payload, MQTT 3.3.1.3) or overwritten with
    // something agents would reject: put the source of truth back.
    if (raw.length === 0) {
      log.warn('catalogue cleared on the broker; republishing ours');
      void publishCurrent();
      return;
    }
    let cat: Catalogue;
    try {
      cat = parseCatalogue(raw);
    } catch (err) {
      counters.invalid++;
      log.warn({ err: (err as Error).message }, 'invalid catalogue on the broker; republishing ours');
      void publishCurrent();
      return;
    }
    // A catalogue without rev comes from a selector that does not replicate: revision 0.
    const theirs: Version = { rev: cat.rev ?? 0, origin: cat.origin ?? '' };
    if (theirs.rev === current.rev && theirs.origin === current.origin) return;
    if (cat.configHash !== undefined && cat.configHash !== configHash) {
      counters.conflicts++;
      const key = `${theirs.origin}/${cat.configHash}`;
      if (!conflictsLogged.has(key)) {
        conflictsLogged.add(key);
        log.warn({ origin: theirs.origin, theirs: cat.configHash, ours: configHash }, 'replica with a different static catalogue (selector.yaml services) on the broker');
      }
    }
    if (!newer(theirs, current)) {
      counters.older++;
      log.info({ theirs, ours: { ...current } }, 'older catalogue on the broker; republishing ours');
      void publishCurrent();
      return;
    }
    let out;
    try {
      out = applyCatalogue(store, deps.admin, cat);
    } catch (err) {
      // A database failure: keep our revision so the catalogue is applied again when seen again.
      log.error({ err, origin: theirs.origin, rev: theirs.rev }, 'cannot apply the catalogue of another replica');
      return;
    }
    current.rev = theirs.rev;
    current.origin = theirs.origin;
    save();
    counters.applied++;
    for (const c of out.conflicts) log.warn({ origin: theirs.origin, conflict: c }, 'catalogue item not applied');
    if (out.rejected.length) {
      countRejections(counters.settingsRejected ?? {}, out.rejected);
      log.warn({ origin: theirs.origin, rejected: out.rejected.slice(0, 10).map((r) => r.message), count: out.rejected.length }, 'catalogue settings rejected');
    }
    log.info({ rev: theirs.rev, origin: theirs.origin, changes: out.changes }, 'applied the catalogue of another replica');
    deps.applied();
  }

  return {
    replicaId,
    counters,
    version: (): Version => ({ ...current }),
    localChange,
    publishCurrent,
    onCatalogue,
    /** Bumps the revision when selector.yaml's services changed since the last start. */
    noteConfig(): boolean {
      const changed = meta('config_hash') !== configHash;
      if (changed) {
        setMeta.run('config_hash', configHash);
        current.rev += 1;
        current.origin = replicaId;
        save();
      }
      return changed;
    },
    /** After each (re)connect: publish ours unless the broker holds a newer one. */
    onConnect(): void {
      seenSinceConnect = false;
      clearTimeout(settle);
      settle = setTimeout(() => {
        if (!seenSinceConnect) void publishCurrent();
      }, deps.settleMs ?? 1000);
      settle.unref();
    },
    close(): void {
      clearTimeout(settle);
    },
  };
}

export type CatalogueSync = ReturnType<typeof createCatalogueSync>;
