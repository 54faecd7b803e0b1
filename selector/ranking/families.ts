// Address families of a service (DESIGN.md "Ranking", families): a site may have IPv4
// and IPv6 addresses; A answers are built from the sites with an IPv4 address, ranked
// on their IPv4 results, AAAA likewise. A family this view has not measured borrows
// the other family's results, then the aggregate's (DESIGN.md: never NODATA for a
// family some site has, and never an unranked answer when data exists).
import type { Family } from '../../shared/prefix.js';
import type { SiteRecord } from '../store/store.js';
import type { SiteStats } from './window.js';

export const FAMILIES: readonly Family[] = [4, 6];

/** Family of a validated address text (IPv6 text always holds a colon). */
export function familyOf(address: string): Family {
  return address.includes(':') ? 6 : 4;
}

export function addressesOf(site: SiteRecord): readonly string[] {
  return site.addresses && site.addresses.length ? site.addresses : [site.address];
}

/** The site's first address of `family`, or undefined. */
export function addressFor(site: SiteRecord, family: Family): string | undefined {
  return addressesOf(site).find((a) => familyOf(a) === family);
}

/** Families for which at least one site has an address, in the order 4, 6. */
export function familiesOf(sites: readonly SiteRecord[]): Family[] {
  return FAMILIES.filter((f) => sites.some((s) => addressFor(s, f) !== undefined));
}

export function otherFamily(f: Family): Family {
  return f === 4 ? 6 : 4;
}

/** Where a family's ranking inputs came from. */
export type StatsSource = 'own' | 'other-family' | 'aggregate' | 'aggregate-other-family' | 'none';

export const SOURCE_TEXT: Readonly<Record<StatsSource, string>> = {
  own: 'ranked on this view\'s results for this family',
  'other-family': 'no results for this family from this view: ranked on its results for the other family',
  aggregate: 'no results from this view: ranked on the aggregate of fresh agents for this family',
  'aggregate-other-family': 'no results for this family anywhere: ranked on the aggregate for the other family',
  none: 'no results: configured order',
};

type StatsFn = (site: string, family: Family) => SiteStats | undefined;

/**
 * Picks the stats of one family's sites: this view's results for the family, else its
 * results for the other family, else the aggregate's (family, then other family).
 */
export function pickStats(siteIds: readonly string[], family: Family, own: StatsFn, aggregate?: StatsFn): { source: StatsSource; stats: (SiteStats | undefined)[] } {
  const tries: [StatsSource, StatsFn | undefined, Family][] = [
    ['own', own, family], ['other-family', own, otherFamily(family)],
    ['aggregate', aggregate, family], ['aggregate-other-family', aggregate, otherFamily(family)],
  ];
  for (const [source, fn, fam] of tries) {
    if (!fn) continue;
    const stats = siteIds.map((id) => fn(id, fam));
    if (stats.some((s) => s !== undefined && s.samples > 0)) return { source, stats };
  }
  return { source: 'none', stats: siteIds.map(() => undefined) };
}
