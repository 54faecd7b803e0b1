// Per-service and per-site answer settings carried by the v1 catalogue (optional,
// additive fields; DESIGN.md "Catalogue", docs/protocol.md). The catalogue schema
// (protocol.ts) takes them loosely so that one bad setting never makes an agent or a
// selector reject the whole catalogue; a selector that applies the catalogue (an LB
// with `uplink.catalogue`, a replica) validates each field here: a valid value is
// used, an invalid one is dropped with a reason the caller counts, and the service
// keeps its previous (or default) value for that field.
import { z } from 'zod';

export const CATALOGUE_POLICIES = ['latency', 'availability', 'cost', 'weighted'] as const;
export const CATALOGUE_ANSWER_SETS = ['band', 'ordered'] as const;
export const CATALOGUE_MODES = ['sites', 'proxy'] as const;

/** One checker per setting: the name of the field is the reason label of its rejection. */
const SERVICE_FIELDS = {
  ttl: z.number().int().min(0).max(86_400),
  answers: z.number().int().min(1).max(64),
  policy: z.enum(CATALOGUE_POLICIES),
  answerSet: z.enum(CATALOGUE_ANSWER_SETS),
  ttlUnsettled: z.number().int().min(5).max(86_400),
  mode: z.enum(CATALOGUE_MODES),
} as const;

const SITE_FIELDS = {
  cost: z.number().finite().nonnegative(),
  weight: z.number().finite().positive(),
  capacity: z.union([
    z.strictObject({ share: z.number().finite().positive().max(1) }),
    z.strictObject({ rps: z.number().finite().positive() }),
  ]),
} as const;

type Out<T extends Record<string, z.ZodType>> = { -readonly [K in keyof T]?: z.infer<T[K]> };
export type ServiceSettings = Out<typeof SERVICE_FIELDS>;
export type SiteSettings = Out<typeof SITE_FIELDS>;

export const SETTING_REJECT_REASONS = [...Object.keys(SERVICE_FIELDS), ...Object.keys(SITE_FIELDS), 'ttlUnsettled_above_ttl'] as const;
export type SettingRejectReason = (typeof SETTING_REJECT_REASONS)[number];

export interface SettingRejection {
  /** `service` or `service/site`. */
  where: string;
  reason: SettingRejectReason;
  message: string;
}

function pick<T extends Record<string, z.ZodType>>(fields: T, raw: Record<string, unknown>, where: string, rejected: SettingRejection[]): Out<T> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const value = raw[key];
    if (value === undefined || value === null) continue;
    const parsed = schema.safeParse(value);
    if (parsed.success) out[key] = parsed.data;
    else rejected.push({ where, reason: key as SettingRejectReason, message: `${where}: ${key} ${JSON.stringify(value).slice(0, 64)}: ${parsed.error.issues[0]?.message ?? 'invalid'}` });
  }
  return out as Out<T>;
}

/** The valid settings of one catalogue service; invalid ones are appended to `rejected`. */
export function serviceSettings(svc: { name: string } & Record<string, unknown>, rejected: SettingRejection[]): ServiceSettings {
  const out = pick(SERVICE_FIELDS, svc, svc.name, rejected);
  if (out.ttlUnsettled !== undefined && out.ttl !== undefined && out.ttlUnsettled > out.ttl) {
    rejected.push({ where: svc.name, reason: 'ttlUnsettled_above_ttl', message: `${svc.name}: ttlUnsettled ${out.ttlUnsettled} is longer than ttl ${out.ttl}` });
    delete out.ttlUnsettled;
  }
  return out;
}

/** The valid settings of one catalogue site. */
export function siteSettings(service: string, site: { id: string } & Record<string, unknown>, rejected: SettingRejection[]): SiteSettings {
  return pick(SITE_FIELDS, site, `${service}/${site.id}`, rejected);
}

/** Adds each rejection to a per-reason counter. */
export function countRejections(counters: Partial<Record<SettingRejectReason, number>>, rejected: readonly SettingRejection[]): void {
  for (const r of rejected) counters[r.reason] = (counters[r.reason] ?? 0) + 1;
}
