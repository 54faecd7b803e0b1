// Public surface of the DNS side.
export { createDnsServer, type DnsServer, type DnsServerOptions, type DnsAddress, type UdpEngine } from './server.js';
export { createResponder, OUR_UDP_SIZE, type Decision, type Responder, type SizeLimit } from './responder.js';
export type { DnsStats } from './stats.js';
