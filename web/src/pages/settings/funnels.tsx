// Funnels: 2 to 8 ordered steps (pages or events), within one visit or a window of time;
// listed with a link to their report on the dashboard.
import { useState } from "preact/hooks";
import { Link } from "../../components/link";
import { TextField } from "../../components/fields";
import { get, post, sitePath } from "../../lib/api";
import { t } from "../../lib/i18n";
import { CardForm, codeOf, FormError, ItemRow, ListSection, Saved, Submit, useAction, withCode } from "./forms";
import { StepFields } from "./step-fields";
import {
  addStep,
  canAddStep,
  canRemoveStep,
  describeStep,
  initialSteps,
  MAX_STEPS,
  MIN_STEPS,
  moveStep,
  removeStep,
  stepProblem,
  toApiStep,
  updateStep,
  type StepDraft,
  type StoredStep,
} from "./steps";
import type { SectionProps } from "./types";
import { wholeNumber } from "./validate";

interface Funnel {
  id: number;
  name: string;
  steps: StoredStep[];
  window_ms: number | null;
  created_at_ms: number;
}

/** The longest window, in minutes (a day). */
const MAX_WINDOW_MINUTES = 1440;

export function FunnelsSection({ site }: SectionProps) {
  const dashboard = `/sites/${encodeURIComponent(site.domain)}`;
  return (
    <ListSection<Funnel>
      title={t("settings.section_funnels")}
      intro={t("settings.funnels_intro")}
      listTitle={t("settings.funnels_list")}
      loadKey={`funnels\n${site.domain}`}
      load={(signal) => get<Funnel[]>(sitePath(site.domain, "/funnels"), signal)}
      none={t("settings.funnels_none")}
      row={(funnel, { remove }) => (
        <ItemRow
          key={funnel.id}
          name={funnel.name}
          removeLabel={t("common.delete")}
          onRemove={remove}
          actions={
            <Link href={`${dashboard}?goals=funnels&funnel=${encodeURIComponent(funnel.name)}`} class="button secondary small">
              {t("settings.funnel_see")}
            </Link>
          }
        >
          <ol class="funnel-steps">
            {funnel.steps.map((step, index) => (
              <li key={index}>
                <code>{describeStep(step)}</code>
              </li>
            ))}
          </ol>
          <span class="muted small">
            {funnel.window_ms ? t("settings.funnel_window_of", { minutes: Math.round(funnel.window_ms / 60_000) }) : t("settings.funnel_within_visit")}
          </span>
        </ItemRow>
      )}
      form={(reload) => <AddFunnel domain={site.domain} onAdded={reload} />}
      remove={{
        title: t("settings.funnel_remove_title"),
        confirmLabel: t("common.delete"),
        path: (funnel) => sitePath(site.domain, `/funnels/${encodeURIComponent(funnel.name)}`),
        text: (funnel) => t("settings.funnel_remove_text", { name: funnel.name }),
      }}
    />
  );
}

function AddFunnel({ domain, onAdded }: { domain: string; onAdded: () => void }) {
  const [name, setName] = useState("");
  const [steps, setSteps] = useState<StepDraft[]>(initialSteps);
  const [windowed, setWindowed] = useState(false);
  const [minutes, setMinutes] = useState("30");
  const [checked, setChecked] = useState(false);
  const action = useAction();
  const problems = steps.map(stepProblem);
  const window = wholeNumber(minutes, 1, MAX_WINDOW_MINUTES);
  const nameProblem = !name.trim() ? t("settings.funnel_name_empty") : null;
  const apiNameError = codeOf(action.error, "funnel_exists") ? withCode(action.error?.message ?? "", "funnel_exists") : null;
  const change = (next: StepDraft[]) => {
    setSteps(next);
    if (action.error) action.reset();
  };
  // A moved step keeps the focus on the button that moved it (or its other arrow at an end).
  const move = (index: number, by: number) => {
    const moved = steps[index];
    change(moveStep(steps, index, by));
    requestAnimationFrame(() => {
      const same = document.getElementById(`funnel-step-${moved.id}-${by < 0 ? "up" : "down"}`) as HTMLButtonElement | null;
      const other = document.getElementById(`funnel-step-${moved.id}-${by < 0 ? "down" : "up"}`) as HTMLButtonElement | null;
      (same && !same.disabled ? same : other)?.focus();
    });
  };
  return (
    <CardForm
      title={t("settings.funnel_add")}
      onSubmit={async () => {
        setChecked(true);
        if (nameProblem || problems.some(Boolean) || (windowed && window === null)) return;
        const body = {
          name: name.trim(),
          steps: steps.map(toApiStep),
          ...(windowed && window !== null ? { window_minutes: window } : {}),
        };
        const added = await action.run(() => post(sitePath(domain, "/funnels"), body));
        if (added === undefined) return;
        setName("");
        setSteps(initialSteps());
        setChecked(false);
        onAdded();
      }}
    >
      <TextField
        id="funnel-name"
        label={t("settings.funnel_name")}
        value={name}
        maxLength={120}
        placeholder={t("settings.funnel_name_placeholder")}
        invalid={Boolean((checked && nameProblem) || apiNameError)}
        error={(checked && nameProblem) || apiNameError}
        onValue={(value) => {
          setName(value);
          if (action.error) action.reset();
        }}
      />
      <fieldset class="funnel-editor">
        <legend>{t("settings.funnel_steps", { min: MIN_STEPS, max: MAX_STEPS })}</legend>
        <p class="hint funnel-hint">
          {t("settings.page_pattern_hint")} {t("settings.event_name_hint")}
        </p>
        <ol>
          {steps.map((step, index) => (
            <li class="funnel-step" key={step.id}>
              <div class="funnel-step-head">
                <span class="funnel-step-number">{t("settings.funnel_step_n", { n: index + 1 })}</span>
                <div class="funnel-step-buttons">
                  <button
                    type="button"
                    class="icon-button"
                    id={`funnel-step-${step.id}-up`}
                    disabled={index === 0}
                    aria-label={t("settings.funnel_step_up", { n: index + 1 })}
                    onClick={() => move(index, -1)}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    class="icon-button"
                    id={`funnel-step-${step.id}-down`}
                    disabled={index === steps.length - 1}
                    aria-label={t("settings.funnel_step_down", { n: index + 1 })}
                    onClick={() => move(index, 1)}
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    class="icon-button"
                    disabled={!canRemoveStep(steps)}
                    aria-label={t("settings.funnel_step_remove", { n: index + 1 })}
                    onClick={() => change(removeStep(steps, index))}
                  >
                    ×
                  </button>
                </div>
              </div>
              <StepFields
                id={`funnel-step-${step.id}`}
                step={step}
                problem={checked ? problems[index] : null}
                legend={t("settings.funnel_step_n", { n: index + 1 })}
                hint={false}
                onChange={(patch) => change(updateStep(steps, index, patch))}
              />
            </li>
          ))}
        </ol>
        <button type="button" class="button secondary small" disabled={!canAddStep(steps)} onClick={() => change(addStep(steps))}>
          + {t("settings.funnel_step_add")}
        </button>
        {!canAddStep(steps) ? <span class="hint"> {t("settings.funnel_steps_full", { max: MAX_STEPS })}</span> : null}
      </fieldset>
      <fieldset class="funnel-window">
        <legend>{t("settings.funnel_window")}</legend>
        <label class="radio">
          <input type="radio" name="funnel-window" checked={!windowed} onChange={() => setWindowed(false)} />
          {t("settings.funnel_within_visit")}
        </label>
        <label class="radio">
          <input type="radio" name="funnel-window" checked={windowed} onChange={() => setWindowed(true)} />
          {t("settings.funnel_within_minutes")}
        </label>
        {windowed ? (
          <TextField
            id="funnel-minutes"
            class="field inline-field"
            label={t("settings.funnel_minutes")}
            type="number"
            min={1}
            max={MAX_WINDOW_MINUTES}
            inputMode="numeric"
            value={minutes}
            invalid={checked && window === null}
            error={checked && window === null ? t("settings.funnel_minutes_invalid", { max: MAX_WINDOW_MINUTES }) : null}
            onValue={setMinutes}
          />
        ) : null}
      </fieldset>
      <FormError error={action.error} shown={["funnel_exists"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.funnel_add_submit")}</Submit>
        <Saved show={action.done}>{t("settings.funnel_added")}</Saved>
      </div>
    </CardForm>
  );
}
