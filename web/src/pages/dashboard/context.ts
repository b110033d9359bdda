// What every part of a site's dashboard is given: the site, the state (from the URL) and
// the way to change it. The page (dashboard.tsx) owns the state; the top stats, the graph
// and the panels (panels/) only read it and ask for changes.
import type { DashboardState } from "../../lib/dashboard-state";

export interface DashboardSite {
  domain: string;
  /** IANA time zone: the dashboard's days are the site's days. */
  timezone: string;
  /** What the viewer may do: `view` (share links) up to `own`. */
  access: string;
}

export interface DashboardProps {
  site: DashboardSite;
  state: DashboardState;
  /** Today in the site's time zone (`YYYY-MM-DD`). */
  today: string;
  /** Changes the view: pushes the new state to the URL (history entry). */
  update: (next: DashboardState) => void;
  /** Bumped when the data should be loaded again (new events arrived, realtime). */
  refresh: number;
  /** Under a share link: no settings, no links out of the dashboard. */
  shared: boolean;
}
