// A button that opens a small menu below it (the site switcher, the range, the comparison):
// closed by Escape (focus goes back to the button), by a click elsewhere, or by choosing.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef } from "preact/hooks";

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  /** The button's content, and its accessible name when the content is not enough. */
  button: ComponentChildren;
  label?: string;
  class?: string;
  align?: "start" | "end";
  children: ComponentChildren;
}

export function Dropdown({ open, onOpenChange, button, label, class: className, align = "start", children }: Props) {
  const root = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const id = useId();

  useEffect(() => {
    if (!open) return;
    const outside = (event: PointerEvent) => {
      if (root.current && !root.current.contains(event.target as Node)) onOpenChange(false);
    };
    const key = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.preventDefault();
        onOpenChange(false);
        trigger.current?.focus();
      }
    };
    document.addEventListener("pointerdown", outside);
    document.addEventListener("keydown", key);
    // The chosen item first, else the first one: the keyboard starts where it matters.
    const first =
      panel.current?.querySelector<HTMLElement>("[aria-checked='true']") ?? panel.current?.querySelector<HTMLElement>("input, a, button");
    first?.focus();
    return () => {
      document.removeEventListener("pointerdown", outside);
      document.removeEventListener("keydown", key);
    };
  }, [open]);

  return (
    <div class={`dropdown ${className ?? ""}`} ref={root}>
      <button
        type="button"
        class="button secondary dropdown-button"
        ref={trigger}
        aria-expanded={open}
        aria-controls={id}
        aria-label={label}
        onClick={() => onOpenChange(!open)}
      >
        {button}
        <svg class="chevron" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true">
          <path d="M2.5 4.5 6 8l3.5-3.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" />
        </svg>
      </button>
      <div
        id={id}
        ref={panel}
        class={`dropdown-panel ${align === "end" ? "end" : ""}`}
        hidden={!open}
        onKeyDown={(event) => moveFocus(event, panel.current)}
      >
        {open ? children : null}
      </div>
    </div>
  );
}

/** Up and down arrows move between the menu's items. */
function moveFocus(event: KeyboardEvent, panel: HTMLElement | null) {
  if (!panel || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
  const target = event.target as HTMLElement;
  if (target.tagName === "INPUT" && (target as HTMLInputElement).type !== "radio") return;
  const items = [...panel.querySelectorAll<HTMLElement>(".dropdown-item")];
  const index = items.indexOf(target);
  if (items.length === 0) return;
  event.preventDefault();
  const next = event.key === "ArrowDown" ? (index + 1) % items.length : (index - 1 + items.length) % items.length;
  items[next].focus();
}
