// An LB's link to its backbone (`uplink:` in selector.yaml): the backbone's broker, the
// LB's identity and DNS servers, and what it sends up (rankings) or takes down (catalogue).
import { z } from 'zod';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { LABEL_RE } from '../../shared/lb-protocol.js';
import { zAddress } from '../../shared/config.js';
import { dnsName } from '../dns/config.js';

export const UplinkConfigSchema = z.strictObject({
  url: z.string().refine((s) => /^(mqtts?|wss?):\/\/[^/]+/.test(s), 'expected mqtt://host:port or mqtts://host:port'),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  id: z.string().regex(AGENT_ID_RE, 'expected [a-z0-9][a-z0-9-]{0,62}'),
  /** `{label}.{service}` is the name the backbone refers this LB's clients to; default: id. */
  label: z.string().regex(LABEL_RE, 'expected one lower-case DNS label').optional(),
  /** This LB's DNS servers as the backbone delegates to them (name + glue address). */
  nameservers: z.array(z.strictObject({ name: dnsName, address: zAddress })).min(1).max(13),
  /** Publish per-agent answer lists so the backbone can answer as this LB would. */
  push: z.boolean().default(false),
  /** Serve and republish the backbone's catalogue to this LB's agents. */
  catalogue: z.boolean().default(true),
  /** Wait after an answer change before publishing, so a burst becomes one message. */
  debounceMs: z.number().int().min(0).max(60_000).default(200),
  /** Rankings are republished at least this often (the backbone's freshness clock). */
  intervalS: z.number().int().min(1).max(3600).default(10),
});

export type UplinkConfig = z.infer<typeof UplinkConfigSchema>;
