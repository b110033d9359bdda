// A labelled text input with its hint and its error tied to it (aria-describedby), as the
// settings, account and sign-in forms write it. The error's look (.field-error) comes with
// the settings' styles, the forms that show one.
import type { ComponentChildren, InputHTMLAttributes, LooseInputHTMLAttributes } from "preact";

/** An error under its field (`id` for the input's aria-describedby); nothing without one. */
export function FieldError({ id, children }: { id: string; children: ComponentChildren }) {
  if (!children) return null;
  return (
    <span class="field-error" id={id} role="alert">
      {children}
    </span>
  );
}

/** The ids an input is described by: its hint (`<id>-hint`) and its error slot (`<id>-error`). */
export function describedBy(id: string, hint: boolean, error: boolean): string | undefined {
  const ids = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

type InputProps = Omit<LooseInputHTMLAttributes<HTMLInputElement>, "id" | "value" | "class" | "onInput" | "label">;

/**
 * `<div class="field">` with a label, an input (`id`), then the hint (`<id>-hint`) and the
 * error (`<id>-error`), each only when given: `error` given, even as null or false, keeps
 * the error's id in the input's aria-describedby (it appears there when there is one).
 */
export function TextField({
  id,
  label,
  value,
  onValue,
  hint,
  hintClass = "hint",
  inputClass,
  error,
  invalid,
  class: className = "field",
  ...input
}: InputProps & {
  id: string;
  label: ComponentChildren;
  value: string;
  /** Called with the input's new value. */
  onValue?: (value: string) => void;
  hint?: ComponentChildren;
  hintClass?: string;
  /** The input's class. */
  inputClass?: string;
  error?: ComponentChildren;
  /** aria-invalid; left out when undefined. */
  invalid?: boolean;
  /** The wrapper's class. */
  class?: string;
}) {
  const hasHint = hint !== undefined && hint !== null;
  const hasError = error !== undefined;
  return (
    <div class={className}>
      <label for={id}>{label}</label>
      <input
        {...(input as InputHTMLAttributes<HTMLInputElement>)}
        id={id}
        class={inputClass}
        value={value}
        aria-invalid={invalid}
        aria-describedby={describedBy(id, hasHint, hasError)}
        onInput={onValue ? (event) => onValue((event.target as HTMLInputElement).value) : undefined}
      />
      {hasHint ? (
        <span class={hintClass} id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
      {hasError ? <FieldError id={`${id}-error`}>{error}</FieldError> : null}
    </div>
  );
}

/** An error's text above or under a form, read out when it appears; nothing without one. */
export function FormAlert({ error }: { error: ComponentChildren }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}
