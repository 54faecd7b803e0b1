// The backbone's configuration (`backbone:` in selector.yaml): how the service names are
// answered (push or refer), the referral and delegation TTLs, and LBs known statically.
import { z } from 'zod';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { LABEL_RE } from '../../shared/lb-protocol.js';
import { zAddress, zPrefix } from '../../shared/config.js';
import { dnsName } from '../dns/config.js';

export const NameserverSchema = z.strictObject({ name: dnsName, address: zAddress });

export const StaticLbSchema = z.strictObject({
  id: z.string().regex(AGENT_ID_RE, 'expected [a-z0-9][a-z0-9-]{0,62}'),
  label: z.string().regex(LABEL_RE, 'expected one lower-case DNS label').optional(),
  nameservers: z.array(NameserverSchema).max(13).default([]),
  resolvers: z.array(zAddress).max(4096).default([]),
  prefixes: z.array(zPrefix).max(1_000_000).default([]),
});

export const BackboneConfigSchema = z.strictObject({
  /** push: answer A/AAAA from an LB's pushed rankings when fresh; refer: CNAME + delegation. */
  mode: z.enum(['push', 'refer']).default('push'),
  referralTtl: z.number().int().min(0).max(604_800).default(3600),
  delegationTtl: z.number().int().min(0).max(604_800).default(86_400),
  /**
   * The backbone's own name servers, added to every `{label}.{service}` delegation so a
   * resolver that times out on a failed LB retries here (answered from the LB's last
   * pushed ranking or the aggregate). Empty: delegations list the LB's servers only.
   */
  nameservers: z.array(NameserverSchema).max(12).default([]),
  lbs: z.array(StaticLbSchema).max(10_000).default([]),
});

export type BackboneConfig = z.infer<typeof BackboneConfigSchema>;
export type StaticLb = z.infer<typeof StaticLbSchema>;
export type Nameserver = z.infer<typeof NameserverSchema>;
