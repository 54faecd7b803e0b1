// DNS counters: plain integers bumped on the query path, turned into a snapshot
// (names instead of numbers) only when someone asks.

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS',
};
const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV',
  41: 'OPT', 43: 'DS', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 251: 'IXFR', 252: 'AXFR', 255: 'ANY',
};

export class DnsCounters {
  /** Responses sent or decided, by rcode (index = extended rcode, 0..23). */
  readonly rcodes: number[] = new Array<number>(24).fill(0);
  readonly qtypes = new Map<number, number>();
  /** `service firstAddress` → answers served. */
  readonly answers = new Map<string, number>();
  queries = 0;
  udpQueries = 0;
  tcpQueries = 0;
  /** Packets that got no response: unreadable header, QR=1, rate-limited drops. */
  dropped = 0;
  truncated = 0;
  rateLimited = 0;
  /** Exceptions caught on the query path (answered SERVFAIL, logged at most once a second). */
  internalErrors = 0;
  tcpConnections = 0;
  /** Connections closed because of maxTcpConnections (the idlest one makes room). */
  tcpRejected = 0;
  tcpTimeouts = 0;
  tcpOpen = 0;
  /** UDP queries answered from the batch engine's packet cache (also counted in every counter above). */
  packetCacheHits = 0;

  countQtype(qtype: number, n = 1): void {
    this.qtypes.set(qtype, (this.qtypes.get(qtype) ?? 0) + n);
  }

  countAnswer(label: string, n = 1): void {
    this.answers.set(label, (this.answers.get(label) ?? 0) + n);
  }

  snapshot(): DnsStats {
    const byRcode: Record<string, number> = {};
    this.rcodes.forEach((n, code) => { if (n) byRcode[RCODE_NAMES[code] ?? `RCODE${code}`] = n; });
    const byQtype: Record<string, number> = {};
    for (const [t, n] of this.qtypes) byQtype[TYPE_NAMES[t] ?? `TYPE${t}`] = n;
    const answers: Record<string, Record<string, number>> = {};
    for (const [label, n] of this.answers) {
      const [service = '', address = ''] = label.split(' ');
      (answers[service] ??= {})[address] = n;
    }
    return {
      queries: this.queries, udpQueries: this.udpQueries, tcpQueries: this.tcpQueries,
      byRcode, byQtype, answers,
      dropped: this.dropped, truncated: this.truncated, rateLimited: this.rateLimited, internalErrors: this.internalErrors,
      tcpConnections: this.tcpConnections, tcpRejected: this.tcpRejected, tcpTimeouts: this.tcpTimeouts, tcpOpen: this.tcpOpen,
      packetCacheHits: this.packetCacheHits,
    };
  }
}

export interface DnsStats {
  queries: number;
  udpQueries: number;
  tcpQueries: number;
  byRcode: Record<string, number>;
  byQtype: Record<string, number>;
  /** service → first site address → answers served. */
  answers: Record<string, Record<string, number>>;
  dropped: number;
  truncated: number;
  rateLimited: number;
  /** Exceptions caught on the query path (each answered SERVFAIL): a bug if ever non-zero. */
  internalErrors: number;
  tcpConnections: number;
  tcpRejected: number;
  tcpTimeouts: number;
  tcpOpen: number;
  /** UDP queries answered from the packet cache (dns.packetCache); included in the counters above. */
  packetCacheHits: number;
  /** Which UDP engine serves (set by the server, not a counter). */
  udpEngine?: 'batch' | 'dgram';
  /** DNS worker threads started again after they stopped (dns.workers; absent in-loop). */
  workerRestarts?: number;
}
