// The pieces every settings form uses: a submit that tracks busy/error/success, field
// errors tied to their input, a copyable block, and a confirmation dialog for what cannot
// be undone.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { Modal } from "../../components/modal";
import { ErrorMessage, Spinner } from "../../components/status";
import { ApiError, del } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import "./settings.css";

export interface Action {
  busy: boolean;
  error: Error | null;
  /** Set after a success; cleared by the next run. */
  done: boolean;
  /** Runs `work`; its error is kept in `error` (and answered as undefined). */
  run: <T>(work: () => Promise<T>) => Promise<T | undefined>;
  reset: () => void;
}

/** A form's submission: one at a time, with its error and its success. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState(false);
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  return {
    busy,
    error,
    done,
    reset: () => {
      setError(null);
      setDone(false);
    },
    run: async (work) => {
      setBusy(true);
      setError(null);
      setDone(false);
      try {
        const result = await work();
        if (alive.current) setDone(true);
        return result;
      } catch (caught) {
        if (alive.current) setError(caught instanceof Error ? caught : new Error(String(caught)));
        return undefined;
      } finally {
        if (alive.current) setBusy(false);
      }
    },
  };
}

/** Names the page in the browser's tab and history. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Hitkeep`;
  }, [title]);
}

/** The error's code if it is an API error with one of `codes`. */
export function codeOf(error: Error | null, ...codes: string[]): string | null {
  return error instanceof ApiError && codes.includes(error.code) ? error.code : null;
}

/** A message with the API's code after it: `the domain is taken (site_exists)`. */
export function withCode(message: string, code: string): string {
  return `${message} (${code})`;
}

/** The API's error as a field's message (`message (code)`) when its code is one of `codes`. */
export function apiFieldError(error: Error | null, ...codes: string[]): string | null {
  const code = codeOf(error, ...codes);
  return code && error ? withCode(error.message, code) : null;
}

export { FieldError } from "../../components/fields";

/** A name made of letters, digits, dots, dashes and underscores (a link's, a token's), with its hint and problem. */
export function SlugField({
  id,
  label,
  placeholder,
  value,
  problem,
  onValue,
}: {
  id: string;
  label: string;
  placeholder: string;
  value: string;
  problem: ComponentChildren;
  onValue: (value: string) => void;
}) {
  return (
    <TextField
      id={id}
      label={label}
      value={value}
      autoComplete="off"
      autoCapitalize="off"
      spellcheck={false}
      placeholder={placeholder}
      invalid={Boolean(problem)}
      hint={t("settings.slug_hint")}
      error={problem}
      onValue={onValue}
    />
  );
}

/** The longest expiry, in days. */
export const MAX_EXPIRY_DAYS = 3650;

/** In how many days something expires (empty: never), with its problem. */
export function DaysField({
  id,
  class: className,
  value,
  problem,
  onValue,
}: {
  id: string;
  class?: string;
  value: string;
  problem: ComponentChildren;
  onValue: (value: string) => void;
}) {
  return (
    <TextField
      id={id}
      class={className}
      label={t("settings.expires_in_days")}
      type="number"
      inputMode="numeric"
      min={1}
      max={MAX_EXPIRY_DAYS}
      value={value}
      placeholder={t("settings.never")}
      invalid={Boolean(problem)}
      error={problem}
      onValue={onValue}
    />
  );
}

/** The submit button, busy while the form is sent. */
export function Submit({
  busy,
  children,
  class: className = "button",
  disabled = false,
}: {
  busy: boolean;
  children: ComponentChildren;
  class?: string;
  disabled?: boolean;
}) {
  return (
    <button type="submit" class={className} disabled={busy || disabled} aria-busy={busy}>
      {busy ? <span class="button-spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

/** A short-lived "saved" note after a success. */
export function Saved({ show, children }: { show: boolean; children?: ComponentChildren }) {
  return (
    <span class="saved-note" role="status" aria-live="polite">
      {show ? (children ?? t("common.saved")) : ""}
    </span>
  );
}

/** The API's error (message and code) under a form, unless a field shows it. */
export function FormError({ error, shown = [] }: { error: Error | null; shown?: string[] }) {
  if (!error || codeOf(error, ...shown)) return null;
  return <ErrorMessage error={error} />;
}

/** Text to copy (a snippet, a secret), with a button; where the clipboard is refused, the text is selected. */
export function CopyBlock({ text, label }: { text: string; label: string }) {
  const block = useRef<HTMLPreElement>(null);
  const [state, setState] = useState<"idle" | "copied" | "select">("idle");
  useEffect(() => {
    if (state !== "copied") return;
    const timer = setTimeout(() => setState("idle"), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  const select = () => {
    const element = block.current;
    if (!element) return;
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
  };
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      select();
      setState("select");
    }
  };
  return (
    <div class="copy-block">
      <pre ref={block} class={text.includes("\n") ? "lines" : undefined} aria-label={label} tabIndex={0} onFocus={select}>
        {text}
      </pre>
      <div class="copy-actions">
        <button type="button" class="button secondary small" onClick={copy}>
          {state === "copied" ? t("common.copied") : t("common.copy")}
        </button>
        <span class="muted small" role="status" aria-live="polite">
          {state === "select" ? t("settings.copy_by_hand") : ""}
        </span>
      </div>
    </div>
  );
}

/**
 * Asks before something that cannot be undone; with `typed`, the person types it (the
 * site's domain) to confirm.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  typed,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  typed?: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const [text, setText] = useState("");
  const action = useAction();
  const matches = typed === undefined || text.trim().toLowerCase() === typed.toLowerCase();
  return (
    <Modal title={title} onClose={onClose}>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          if (!matches) return;
          await action.run(onConfirm);
        }}
      >
        <div class="confirm-text">{children}</div>
        {typed !== undefined ? (
          <label class="field">
            <span>{t("settings.type_to_confirm", { text: typed })}</span>
            <input
              value={text}
              autoComplete="off"
              autoCapitalize="off"
              spellcheck={false}
              onInput={(event) => setText((event.target as HTMLInputElement).value)}
            />
          </label>
        ) : null}
        <FormError error={action.error} />
        <div class="form-actions">
          <button type="button" class="button secondary" onClick={onClose}>
            {t("common.cancel")}
          </button>
          <Submit busy={action.busy} disabled={!matches} class="button danger-solid">
            {confirmLabel}
          </Submit>
        </div>
      </form>
    </Modal>
  );
}

/** A date (ms since the epoch) in the reader's language, with the time. */
export function formatWhen(ms: number | null | undefined, lang: string): string {
  if (ms === null || ms === undefined) return "—";
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

/** What a form made (a link, a secret), scrolled into view when it appears. */
export function Result({ children }: { children: ComponentChildren }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
  }, []);
  return (
    <div class="result" role="status" ref={box}>
      {children}
    </div>
  );
}

/** A section's title and what it is for. */
export function SectionHead({ title, intro }: { title: string; intro?: ComponentChildren }) {
  return (
    <header class="section-head">
      <h2 id="settings-section-title">{title}</h2>
      {intro ? <p class="muted">{intro}</p> : null}
    </header>
  );
}

/**
 * A card listing what a section has (goals, funnels, links, tokens, members): its title and
 * intro, the load's error or spinner, `none` when there is nothing, else `<ul class="item-list">`.
 */
export function ListCard<T>({
  title,
  intro,
  load,
  items = load.data ?? [],
  none,
  row,
  children,
}: {
  title: string;
  /** A sentence under the title. */
  intro?: ComponentChildren;
  load: { data: T[] | null; error: Error | null; loading: boolean };
  /** What to list of what was loaded (all of it by default). */
  items?: T[];
  none: string;
  row: (item: T) => JSX.Element;
  /** After the list, inside the card. */
  children?: ComponentChildren;
}) {
  return (
    <div class="card settings-card">
      <h3>{title}</h3>
      {intro ? <p class="muted">{intro}</p> : null}
      {load.error ? <ErrorMessage error={load.error} /> : null}
      {!load.data && load.loading ? <Spinner /> : null}
      {load.data && items.length === 0 ? <p class="muted">{none}</p> : null}
      {load.data && items.length > 0 ? <ul class="item-list">{items.map(row)}</ul> : null}
      {children}
    </div>
  );
}

/** Asks before removing `item` (nothing while it is null): DELETE `path`, then `onRemoved`. */
export function RemoveDialog<T>({
  item,
  title,
  confirmLabel,
  path,
  text,
  onClose,
  onRemoved,
}: {
  item: T | null;
  title: string;
  confirmLabel: string;
  path: (item: T) => string;
  text: (item: T) => ComponentChildren;
  onClose: () => void;
  onRemoved: () => void;
}) {
  if (item === null) return null;
  return (
    <ConfirmDialog
      title={title}
      confirmLabel={confirmLabel}
      onClose={onClose}
      onConfirm={async () => {
        await del(path(item));
        onClose();
        onRemoved();
      }}
    >
      <p>{text(item)}</p>
    </ConfirmDialog>
  );
}

/** What a form made that is shown this once: "<made> Shown once" and the text to copy, then `children`. */
export function ShownOnce({ made, text, label, children }: { made: string; text: string; label: string; children?: ComponentChildren }) {
  return (
    <Result>
      <p>
        <strong>{made}</strong> {t("settings.shown_once")}
      </p>
      <CopyBlock text={text} label={label} />
      {children}
    </Result>
  );
}

/**
 * One of a list's items: its name and details, then its actions (`<div class="item-actions">`
 * when there are more than the remove button).
 */
export function ItemRow({
  name,
  children,
  actions,
  removeLabel,
  onRemove,
}: {
  name: string;
  children?: ComponentChildren;
  actions?: ComponentChildren;
  removeLabel: string;
  onRemove: () => void;
}) {
  const remove = (
    <button type="button" class="button danger small" onClick={onRemove}>
      {removeLabel}
    </button>
  );
  return (
    <li>
      <div class="item-main">
        <strong>{name}</strong>
        {children}
      </div>
      {actions ? (
        <div class="item-actions">
          {actions}
          {remove}
        </div>
      ) : (
        remove
      )}
    </li>
  );
}

/**
 * A section that lists what a site has and makes more: its head, the list (loaded as
 * `load` answers, under `loadKey`), the form that adds one (given `reload`), and the dialog
 * that asks before removing one (`row` gets what opens it).
 */
export function ListSection<T>({
  title,
  intro,
  listTitle,
  loadKey,
  load,
  pick,
  none,
  row,
  footer,
  form,
  remove,
}: {
  title: string;
  intro: string;
  listTitle: string;
  loadKey: string;
  load: (signal: AbortSignal) => Promise<T[]>;
  /** What to list of what was loaded (all of it by default). */
  pick?: (all: T[]) => T[];
  none: string;
  row: (item: T, actions: { remove: () => void; reload: () => void }) => JSX.Element;
  /** Under the list, in its card. */
  footer?: ComponentChildren;
  form: (reload: () => void) => ComponentChildren;
  remove: { title: string; confirmLabel: string; path: (item: T) => string; text: (item: T) => ComponentChildren };
}) {
  const [refresh, setRefresh] = useState(0);
  const loaded = useLoad(loadKey, load, refresh);
  const [removing, setRemoving] = useState<T | null>(null);
  const reload = () => setRefresh((n) => n + 1);
  return (
    <>
      <SectionHead title={title} intro={intro} />
      <ListCard
        title={listTitle}
        load={loaded}
        items={pick ? pick(loaded.data ?? []) : undefined}
        none={none}
        row={(item) => row(item, { remove: () => setRemoving(item), reload })}
      >
        {footer}
      </ListCard>
      {form(reload)}
      <RemoveDialog item={removing} {...remove} onClose={() => setRemoving(null)} onRemoved={reload} />
    </>
  );
}

/** A form in its own card, under its title; `onSubmit` runs instead of the page's reload. */
export function CardForm({ title, onSubmit, children }: { title: string; onSubmit: () => Promise<void>; children: ComponentChildren }) {
  return (
    <form
      class="card settings-card"
      onSubmit={async (event) => {
        event.preventDefault();
        await onSubmit();
      }}
    >
      <h3>{title}</h3>
      {children}
    </form>
  );
}
