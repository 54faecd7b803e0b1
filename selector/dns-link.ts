// Starts the DNS server (selector/dns/, owned by the DNS side) over the answer table
// and client mapper. Kept behind this one function so selector.ts does not depend on
// the server's module layout.
import type { Logger } from '../shared/log.js';
import type { SelectorConfig } from './config.js';
import type { AnswerTable, ClientMapper } from './contracts.js';
import type { Responder } from './dns/answer.js';

export interface DnsLink {
  start(): Promise<void>;
  close(): Promise<void>;
  addresses(): { host: string; port: number; family?: unknown }[];
  stats(): unknown;
  /** What the query path would answer for a name and client (for `explain`). */
  decide?: Responder['decide'];
}

export interface DnsLinkDeps {
  dns: SelectorConfig['dns'];
  table: AnswerTable;
  mapper: ClientMapper;
  log: Logger;
}

export async function createDnsLink(deps: DnsLinkDeps): Promise<DnsLink> {
  const specifier = './dns/server.js';
  const mod = (await import(specifier)) as { createDnsServer(d: DnsLinkDeps): DnsLink };
  return mod.createDnsServer(deps);
}
