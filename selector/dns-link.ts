// Starts the DNS server (selector/dns/, owned by the DNS side) over the answer table
// and client mapper. Kept behind this one function so selector.ts depends only on
// this small surface of the server.
import type { Logger } from '../shared/log.js';
import type { WireAnswerTable } from './answer-table.js';
import type { SelectorConfig } from './config.js';
import type { ClientMapper } from './contracts.js';
import type { Responder } from './dns/answer.js';
import { createDnsServer } from './dns/server.js';

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
  table: WireAnswerTable;
  mapper: ClientMapper;
  log: Logger;
  /** Service names: NODATA rather than NXDOMAIN for them even before answers exist. */
  services?: readonly string[];
}

export async function createDnsLink(deps: DnsLinkDeps): Promise<DnsLink> {
  return createDnsServer(deps);
}
