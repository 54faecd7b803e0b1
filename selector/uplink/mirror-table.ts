// An LB answers `{label}.{service}` exactly as `{service}` (the name the backbone refers
// its clients to). MirrorTable sits between the ranking engine and the DNS answer table:
// every write goes to the service and to its `{label}.` alias, and then `onChange` is
// called so the uplink can push the new answers. The DNS path reads the table unchanged.
import type { AnswerTable } from '../dns/contract.js';

export class MirrorTable implements AnswerTable {
  constructor(
    private readonly inner: AnswerTable,
    private readonly label: string,
    private readonly onChange: () => void = () => undefined,
  ) {}

  alias(name: string): string {
    return `${this.label}.${name.toLowerCase().replace(/\.$/, '')}`;
  }

  setService(name: string, ttl: number): void {
    this.inner.setService(name, ttl);
    this.inner.setService(this.alias(name), ttl);
    this.onChange();
  }

  removeService(name: string): void {
    this.inner.removeService(name);
    this.inner.removeService(this.alias(name));
    this.onChange();
  }

  setAnswer(name: string, key: string, addresses: readonly string[]): void {
    this.inner.setAnswer(name, key, addresses);
    this.inner.setAnswer(this.alias(name), key, addresses);
    this.onChange();
  }

  retainKeys(name: string, keys: ReadonlySet<string>): void {
    this.inner.retainKeys(name, keys);
    this.inner.retainKeys(this.alias(name), keys);
    this.onChange();
  }

  getAnswer(name: string, key: string): { key: string; addresses: readonly string[]; ttl: number } | undefined {
    return this.inner.getAnswer(name, key);
  }

  isUniform(name: string): boolean {
    return this.inner.isUniform(name);
  }

  /** The services the engine wrote (aliases left out). */
  countQueries(name: string, on: boolean): void {
    this.inner.countQueries?.(name, on);
  }

  queryCounts(name: string): ReadonlyMap<string, number> {
    return this.inner.queryCounts?.(name) ?? new Map();
  }

  services(): string[] {
    const aliasPrefix = `${this.label}.`;
    const all = this.inner.services();
    const set = new Set(all);
    return all.filter((n) => !(n.startsWith(aliasPrefix) && set.has(n.slice(aliasPrefix.length))));
  }
}
