import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";

/**
 * A term with an explanation shown on hover and on keyboard focus (the metric definitions
 * of docs/metrics.md, say); screen readers get it as the term's description.
 */
export function Tooltip({ text, children }: { text: string; children: ComponentChildren }) {
  const id = useId();
  return (
    <span class="tooltip" tabIndex={0} aria-describedby={id}>
      {children}
      <span class="tooltip-text" role="tooltip" id={id}>
        {text}
      </span>
    </span>
  );
}
