// What DNS worker threads are told: the main thread's answer table and client mapper,
// as one full snapshot when a worker starts and then as batches of the writes that
// changed something (postMessage, structured clone; never per query). A worker replays
// them on its own MemoryAnswerTable and mapper, so its answers equal the main thread's.
import type { ClientMapper, ClientMatch } from './contract.js';
import { MemoryAnswerTable, type ServiceSnapshot } from './answer-table.js';
import { nameToWire } from './names.js';
import type { Family } from '../../shared/prefix.js';

type AgentState = 'fresh' | 'stale' | 'offline';
type PrefixInput = { prefix: string; agent: string; configured?: boolean };
type ResolverInput = { address: string; agent: string };

/** One answer-table write, in the order it was made: [op, service, ...args]. */
export type TableOp =
  | [op: 0, name: string, ttl: number] // setService
  | [op: 1, name: string] // removeService
  | [op: 2, name: string, key: string, addresses: readonly string[], ttl: number | undefined] // setAnswer
  | [op: 3, name: string, keys: string[]] // retainKeys
  | [op: 4, name: string, on: boolean]; // countQueries

/** Queries counted per answer key since the last batch: [service, [key, count][]][] (worker → main, every second). */
export type CountBatch = [name: string, counts: [key: string, n: number][]][];

/** The mapper's inputs (each replaces the previous one); absent = unchanged. */
export interface MapperInputs {
  prefixes?: PrefixInput[];
  resolvers?: ResolverInput[];
  states?: [string, AgentState][];
}

export interface Snapshot {
  services: ServiceSnapshot[];
  mapper: MapperInputs;
  /** Services that count queries per answer key (capacity); absent = none. */
  counting?: string[];
}

export interface Delta {
  ops: TableOp[];
  mapper: MapperInputs;
}

/** A MemoryAnswerTable that records its changing writes for the DNS workers. */
export class TrackedAnswerTable extends MemoryAnswerTable {
  private ops: TableOp[] = [];
  /** Called after a write that changed something (the owner schedules a flush). */
  onChange: (() => void) | undefined;

  override setService(name: string, ttl: number): boolean {
    return this.record(super.setService(name, ttl), [0, name, ttl]);
  }

  override removeService(name: string): boolean {
    return this.record(super.removeService(name), [1, name]);
  }

  override setAnswer(name: string, key: string, addresses: readonly string[], ttl?: number): boolean {
    return this.record(super.setAnswer(name, key, addresses, ttl), [2, name, key, [...addresses], ttl]);
  }

  override retainKeys(name: string, keys: ReadonlySet<string>): boolean {
    return this.record(super.retainKeys(name, keys), [3, name, [...keys]]);
  }

  override countQueries(name: string, on: boolean): void {
    const was = counting(this, name);
    super.countQueries(name, on);
    this.record(was !== on, [4, name, on]);
  }

  /**
   * Adds a worker's counts to this table's (capacity demand reads `queryCounts()` here);
   * services no longer counting are skipped.
   */
  mergeCounts(batch: CountBatch): void {
    for (const [name, counts] of batch) {
      const into = this.lookupWire(nameToWire(name))?.counts;
      if (!into) continue;
      for (const [key, n] of counts) into.set(key, (into.get(key) ?? 0) + n);
    }
  }

  /** Services counting queries now (for a worker that starts). */
  exportCounting(): string[] {
    return this.services().filter((name) => counting(this, name));
  }

  /** The writes since the last call. */
  takeOps(): TableOp[] {
    const ops = this.ops;
    this.ops = [];
    return ops;
  }

  /** Every service as it is now (for a worker that starts). */
  exportAll(): ServiceSnapshot[] {
    return this.services().flatMap((name) => this.exportService(name) ?? []);
  }

  private record(changed: boolean, op: TableOp): boolean {
    if (changed) {
      this.ops.push(op);
      this.onChange?.();
    }
    return changed;
  }
}

/** Wraps a ClientMapper and keeps its last inputs, so a worker can build the same mapper. */
export class TrackedMapper<M extends ClientMapper = ClientMapper> implements ClientMapper {
  private current: Required<MapperInputs> = { prefixes: [], resolvers: [], states: [] };
  private pending: MapperInputs = {};
  onChange: (() => void) | undefined;

  constructor(readonly inner: M) {}

  map(family: Family, client: Uint8Array, sourceLength: number, sourceFamily: Family, source: Uint8Array): ClientMatch {
    return this.inner.map(family, client, sourceLength, sourceFamily, source);
  }

  setPrefixes(entries: Iterable<PrefixInput>): void {
    const list = [...entries].map((e) => ({ prefix: e.prefix, agent: e.agent, configured: e.configured === true }));
    this.inner.setPrefixes(list);
    this.current.prefixes = this.pending.prefixes = list;
    this.onChange?.();
  }

  setResolvers(entries: Iterable<ResolverInput>): void {
    const list = [...entries].map((e) => ({ address: e.address, agent: e.agent }));
    this.inner.setResolvers(list);
    this.current.resolvers = this.pending.resolvers = list;
    this.onChange?.();
  }

  setAgentStates(states: ReadonlyMap<string, AgentState>): void {
    this.inner.setAgentStates(states);
    const list = [...states];
    // The selector re-evaluates every second; only a change is shipped.
    const prev = this.current.states;
    if (list.length === prev.length && list.every(([a, s], i) => prev[i]?.[0] === a && prev[i]?.[1] === s)) return;
    this.current.states = this.pending.states = list;
    this.onChange?.();
  }

  /** Inputs changed since the last call. */
  takeInputs(): MapperInputs {
    const p = this.pending;
    this.pending = {};
    return p;
  }

  /** All inputs as they are now. */
  exportAll(): MapperInputs {
    return { ...this.current };
  }
}

function counting(table: MemoryAnswerTable, name: string): boolean {
  return table.lookupWire(nameToWire(name))?.counts !== undefined;
}

/**
 * A worker's counts since the last call, cleared (the main thread adds them up): one small
 * message a second, whatever the query rate.
 */
export function drainCounts(table: MemoryAnswerTable): CountBatch {
  const out: CountBatch = [];
  for (const name of table.services()) {
    const counts = table.lookupWire(nameToWire(name))?.counts;
    if (!counts || counts.size === 0) continue;
    out.push([name, [...counts]]);
    counts.clear();
  }
  return out;
}

export function applySnapshot(table: MemoryAnswerTable, mapper: ClientMapper, snap: Snapshot): void {
  for (const s of snap.services) {
    table.setService(s.name, s.ttl);
    for (const a of s.answers) table.setAnswer(s.name, a.key, a.addresses, a.ttl);
  }
  for (const name of snap.counting ?? []) table.countQueries(name, true);
  applyMapper(mapper, snap.mapper);
}

export function applyDelta(table: MemoryAnswerTable, mapper: ClientMapper, delta: Delta): void {
  for (const op of delta.ops) {
    switch (op[0]) {
      case 0: table.setService(op[1], op[2]); break;
      case 1: table.removeService(op[1]); break;
      case 2: table.setAnswer(op[1], op[2], op[3], op[4]); break;
      case 3: table.retainKeys(op[1], new Set(op[2])); break;
      case 4: table.countQueries(op[1], op[2]); break;
    }
  }
  applyMapper(mapper, delta.mapper);
}

function applyMapper(mapper: ClientMapper, m: MapperInputs): void {
  if (m.prefixes) mapper.setPrefixes(m.prefixes);
  if (m.resolvers) mapper.setResolvers(m.resolvers);
  if (m.states) mapper.setAgentStates(new Map(m.states));
}
