import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Spinner } from "./status";

/**
 * A component loaded on first use (its own chunk), so the first page downloads only what it
 * draws. Shows a spinner meanwhile.
 */
export function lazy<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<ComponentType<P>> | null = null;
  return function Lazy(props: P) {
    const [component, setComponent] = useState<ComponentType<P> | null>(() => loaded);
    const [failed, setFailed] = useState<Error | null>(null);
    useEffect(() => {
      if (component) return;
      pending ??= load().then((found) => (loaded = found));
      pending.then((found) => setComponent(() => found), setFailed);
    }, []);
    if (failed) throw failed;
    const Component = component;
    return Component ? <Component {...props} /> : <Spinner />;
  };
}
