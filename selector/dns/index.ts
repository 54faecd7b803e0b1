// Public surface of the DNS side.
export { createDnsServer, type DnsServer, type DnsServerOptions, type DnsAddress, type UdpEngine } from './server.js';
export { createResponder, OUR_UDP_SIZE, type Responder, type SizeLimit } from './responder.js';
export { createResolver, type ResolverOptions } from './resolve.js';
export { decide, encodeQuery, type Decision, type DecideClient } from './decide.js';
export { clearResolution, newResolution, setSection, type ResolveFn, type Resolution, type ResolutionKind, type Section, type Source } from './resolution.js';
export type { DnsStats } from './stats.js';
export { RCODE, TYPE, type Query } from './wire.js';
export { rrBody } from './zones.js';
