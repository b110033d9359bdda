import type { ComponentChildren } from "preact";
import { isPlainClick, navigate } from "../lib/router";

interface Props {
  href: string;
  children?: ComponentChildren;
  class?: string;
  replace?: boolean;
  title?: string;
  "aria-current"?: "page" | undefined;
  "aria-label"?: string;
  onClick?: (event: MouseEvent) => void;
}

/** A link within the app: followed without reloading the page (new tabs work as usual). */
export function Link({ href, replace, onClick, children, ...rest }: Props) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(event) => {
        onClick?.(event);
        if (!isPlainClick(event)) return;
        event.preventDefault();
        navigate(href, { replace });
      }}
    >
      {children}
    </a>
  );
}
