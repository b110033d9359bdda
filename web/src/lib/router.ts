// The app's router: the URL is the state. Pages read the path and the query string through
// `useLocation`, and change them through `navigate`, so every view can be bookmarked,
// shared and restored with the browser's back button.
import { useEffect, useState } from "preact/hooks";

export interface Location {
  /** The path, e.g. `/sites/example.com`. */
  path: string;
  /** The query string's parameters. */
  params: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { path: window.location.pathname, params: new URLSearchParams(window.location.search) };
}

function notify(): void {
  for (const listener of listeners) listener();
}

if (typeof window !== "undefined") window.addEventListener("popstate", notify);

/** Goes to `to` (a path with its query string) without reloading the page. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const target = new URL(to, window.location.href);
  if (target.origin !== window.location.origin) {
    window.location.assign(target.href);
    return;
  }
  const href = target.pathname + target.search + target.hash;
  if (href === window.location.pathname + window.location.search + window.location.hash) return;
  if (options.replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  notify();
}

/** The current location; the component renders again when it changes. */
export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const listener = () => setLocation(current());
    listeners.add(listener);
    listener();
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return location;
}

/**
 * Matches `path` against `pattern` (`/sites/:domain/settings/:section?`): the named
 * segments, decoded, or null. A trailing `?` makes a segment optional.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const wanted = pattern.split("/").filter(Boolean);
  const given = path.split("/").filter(Boolean);
  if (given.length > wanted.length) return null;
  const params: Record<string, string> = {};
  for (let index = 0; index < wanted.length; index += 1) {
    const segment = wanted[index];
    const optional = segment.endsWith("?");
    const name = optional ? segment.slice(1, -1) : segment.slice(1);
    const value = given[index];
    if (value === undefined) {
      if (optional) continue;
      return null;
    }
    if (segment.startsWith(":")) {
      try {
        params[name] = decodeURIComponent(value);
      } catch {
        return null;
      }
    } else if (segment !== value) {
      return null;
    }
  }
  return params;
}

/** A click that should follow the link in this page (not a new tab, not a download). */
export function isPlainClick(event: MouseEvent): boolean {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey && !event.defaultPrevented;
}
