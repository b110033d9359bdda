// The range picker (presets with their keys, a custom range) with the arrows that step a day
// or a month, and the comparison menu beside it.
import { useState } from "preact/hooks";
import { currentLanguage, t } from "../../lib/i18n";
import type { Comparison, DashboardState } from "../../lib/dashboard-state";
import { rangeOf } from "../../lib/dashboard-state";
import type { DashboardProps } from "./context";
import { canCompare, COMPARISON_MODES, comparisonRange, withComparison } from "./comparison";
import { Dropdown } from "./dropdown";
import { applyCustom, applyPreset, COMPARE_KEY, CUSTOM_KEY, customRangeError, dayRangeLabel, PRESET_GROUPS, presetOf, rangeLabel, stepOf } from "./range";

interface PickerProps {
  props: DashboardProps;
  /** Open with the custom range's form showing (the `c` key). */
  open: "closed" | "menu" | "custom";
  onOpen: (open: "closed" | "menu" | "custom") => void;
}

export function RangePicker({ props, open, onOpen }: PickerProps) {
  const { state, today, update } = props;
  const lang = currentLanguage();
  const active = presetOf(state, today);
  const step = stepOf(state, today);
  const label = rangeLabel(state, today, lang);
  const choose = (next: DashboardState) => {
    onOpen("closed");
    update(next);
  };
  return (
    <div class="range-picker">
      {step ? (
        <div class="range-steps">
          <button type="button" class="icon-button" aria-label={t("dashboard.range_previous")} title={`${t("dashboard.range_previous")} (←)`} onClick={() => update(step.previous)}>
            ‹
          </button>
          <button
            type="button"
            class="icon-button"
            aria-label={t("dashboard.range_next")}
            title={`${t("dashboard.range_next")} (→)`}
            disabled={!step.next}
            onClick={() => step.next && update(step.next)}
          >
            ›
          </button>
        </div>
      ) : null}
      <Dropdown
        open={open !== "closed"}
        onOpenChange={(next) => onOpen(next ? "menu" : "closed")}
        button={<span class="range-label">{label}</span>}
        label={t("dashboard.range_button", { range: label })}
        align="end"
        class="range-dropdown"
      >
        {open === "custom" ? (
          <CustomRange
            initial={rangeOf(state, today)}
            today={today}
            submitLabel={t("dashboard.custom_apply")}
            onSubmit={(from, to) => choose(applyCustom(state, from, to))}
          />
        ) : (
          <div class="menu" role="menu" aria-label={t("dashboard.range_button", { range: label })}>
            {PRESET_GROUPS.map((group, index) => (
              <div class="menu-group" key={index} role="group">
                {group.map((preset) => (
                  <button
                    type="button"
                    role="menuitemradio"
                    aria-checked={active === preset.id}
                    class="dropdown-item"
                    key={preset.id}
                    onClick={() => choose(applyPreset(state, preset.id, today))}
                  >
                    <span>{t(`dashboard.preset_${preset.id}`)}</span>
                    <kbd aria-label={t("dashboard.shortcut_hint", { key: preset.key.toUpperCase() })}>{preset.key.toUpperCase()}</kbd>
                  </button>
                ))}
              </div>
            ))}
            <div class="menu-group" role="group">
              <button type="button" role="menuitemradio" aria-checked={state.period === "custom"} class="dropdown-item" onClick={() => onOpen("custom")}>
                <span>{t("dashboard.preset_custom")}</span>
                <kbd aria-label={t("dashboard.shortcut_hint", { key: CUSTOM_KEY.toUpperCase() })}>{CUSTOM_KEY.toUpperCase()}</kbd>
              </button>
            </div>
            <p class="menu-note muted">{t("dashboard.shortcuts_note")}</p>
          </div>
        )}
      </Dropdown>
    </div>
  );
}

/** Two days, validated, for a custom range or a custom comparison. */
function CustomRange({
  initial,
  today,
  submitLabel,
  onSubmit,
}: {
  initial: ReturnType<typeof rangeOf> | { from: string; to: string } | null;
  today: string;
  submitLabel: string;
  onSubmit: (from: string, to: string) => void;
}) {
  const start = initial && typeof initial === "object" ? initial : { from: today, to: today };
  const [from, setFrom] = useState(start.from);
  const [to, setTo] = useState(start.to);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <form
      class="custom-range"
      onSubmit={(event) => {
        event.preventDefault();
        const error = customRangeError(from, to, today);
        setProblem(error);
        if (!error) onSubmit(from, to);
      }}
    >
      <label class="field">
        <span>{t("dashboard.custom_from")}</span>
        <input type="date" value={from} min="2000-01-01" max={today} required onInput={(event) => setFrom((event.target as HTMLInputElement).value)} />
      </label>
      <label class="field">
        <span>{t("dashboard.custom_to")}</span>
        <input type="date" value={to} min="2000-01-01" max={today} required onInput={(event) => setTo((event.target as HTMLInputElement).value)} />
      </label>
      {problem ? (
        <p class="error" role="alert">
          {t(problem)}
        </p>
      ) : null}
      <button type="submit" class="button">
        {submitLabel}
      </button>
    </form>
  );
}

/** The comparison menu: none, the previous period, a year before, or custom days. */
export function ComparisonMenu({ props, open, onOpen }: { props: DashboardProps; open: boolean; onOpen: (open: boolean) => void }) {
  const { state, today, update } = props;
  const [custom, setCustom] = useState(false);
  const lang = currentLanguage();
  const enabled = canCompare(state);
  const range = comparisonRange(state, today);
  const label = state.comparison ? t(`dashboard.compare_${state.comparison}`) : t("dashboard.compare");
  const choose = (mode: Comparison | null) => {
    onOpen(false);
    setCustom(false);
    update(withComparison(state, mode));
  };
  if (!enabled) {
    return (
      <button type="button" class="button secondary compare-disabled" disabled title={t("dashboard.compare_disabled")}>
        {t("dashboard.compare")}
      </button>
    );
  }
  return (
    <Dropdown
      open={open}
      onOpenChange={(next) => {
        setCustom(false);
        onOpen(next);
      }}
      button={
        <span class="compare-label">
          {label}
          {range ? <span class="muted compare-range"> {t("dashboard.compared_with", { range: dayRangeLabel(range.from, range.to, lang) })}</span> : null}
        </span>
      }
      label={t("dashboard.compare_button", { mode: state.comparison ? label : t("dashboard.compare_none") })}
      align="end"
      class={`compare-dropdown ${state.comparison ? "active" : ""}`}
    >
      {custom ? (
        <CustomRange
          initial={range}
          today={today}
          submitLabel={t("dashboard.custom_apply")}
          onSubmit={(from, to) => {
            onOpen(false);
            setCustom(false);
            update(withComparison(state, "custom", { from, to }));
          }}
        />
      ) : (
        <div class="menu" role="menu" aria-label={t("dashboard.compare")}>
          {COMPARISON_MODES.map((mode) => (
            <button
              type="button"
              role="menuitemradio"
              class="dropdown-item"
              aria-checked={state.comparison === mode}
              key={mode ?? "none"}
              onClick={() => (mode === "custom" ? setCustom(true) : choose(mode))}
            >
              <span>{t(`dashboard.compare_${mode ?? "none"}`)}</span>
              {mode === "previous_period" ? <kbd aria-label={t("dashboard.shortcut_hint", { key: COMPARE_KEY.toUpperCase() })}>{COMPARE_KEY.toUpperCase()}</kbd> : null}
            </button>
          ))}
        </div>
      )}
    </Dropdown>
  );
}
