import type { DashboardProps } from "../context";

/** The breakdown panels of a site's dashboard (pages, sources, locations, devices, goals, funnels). */
export function Panels(props: DashboardProps) {
  return <div class="panels" data-site={props.site.domain} />;
}
