// A site's settings sections, and which of them a person sees: by what they may do on the
// site (its `access`) and, for the instance-wide ones, by their role on the instance.
import { allows } from "../../lib/session";

export const SECTIONS = ["general", "privacy", "goals", "funnels", "members", "shares", "reports", "tokens", "plugins", "cluster"] as const;
export type Section = (typeof SECTIONS)[number];

type Needed = "read" | "manage" | "own" | "instance_admin";

/** What each section needs: the API's own check for the routes it changes. */
const NEEDS: Record<Section, Needed> = {
  // Everyone who reads the site sees its snippet and time zone; changes are checked inside.
  general: "read",
  privacy: "manage",
  goals: "manage",
  funnels: "manage",
  members: "own",
  shares: "manage",
  reports: "manage",
  // A person's own tokens, reaching only sites they may read.
  tokens: "read",
  plugins: "instance_admin",
  cluster: "instance_admin",
};

/** Whether an instance role (`owner`, `admin`, `member`) administers the instance. */
export function isInstanceAdmin(role: string | undefined): boolean {
  return role === "owner" || role === "admin";
}

/** The sections a person with `access` on the site and `role` on the instance sees, in order. */
export function visibleSections(access: string | undefined, role: string | undefined): Section[] {
  return SECTIONS.filter((section) => {
    const needed = NEEDS[section];
    if (needed === "instance_admin") return isInstanceAdmin(role);
    return allows(access, needed);
  });
}

/** The section a path names, if it is one the person sees; else null. */
export function sectionOf(name: string, visible: readonly Section[]): Section | null {
  return (visible as readonly string[]).includes(name) ? (name as Section) : null;
}
