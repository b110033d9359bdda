// What every settings section is given.
import type { Account, Site } from "../../lib/api";

export interface SectionProps {
  site: Site;
  account: Account | null;
}

/** A site's privacy rules, as `GET /api/sites` shows them and `PUT .../rules` takes them. */
export interface Rules {
  honor_dnt: boolean;
  honor_gpc: boolean;
  excluded_ip_ranges: string[];
  excluded_paths: string[];
  allowed_hostnames: string[];
}

/** The rules of a site as listed, with defaults for what is missing. */
export function rulesOf(site: Site): Rules {
  const rules = site.rules as Partial<Rules>;
  return {
    honor_dnt: rules.honor_dnt ?? true,
    honor_gpc: rules.honor_gpc ?? true,
    excluded_ip_ranges: rules.excluded_ip_ranges ?? [],
    excluded_paths: rules.excluded_paths ?? [],
    allowed_hostnames: rules.allowed_hostnames ?? [],
  };
}
