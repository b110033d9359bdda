// One goal or funnel step in a form: a page pattern, or a custom event with property
// conditions.
import { t } from "../../lib/i18n";
import { MAX_PROPS, type StepDraft, type StepProblem } from "./steps";
import { FieldError, TextField } from "../../components/fields";

export function StepFields({
  id,
  step,
  onChange,
  problem,
  legend,
  hint = true,
}: {
  id: string;
  step: StepDraft;
  onChange: (change: Partial<StepDraft>) => void;
  problem: StepProblem | null;
  legend?: string;
  /** Explain the patterns under the field (a funnel explains them once, above its steps). */
  hint?: boolean;
}) {
  const valueProblem = problem && !problem.startsWith("prop") && problem !== "too_many_props" ? problem : null;
  const propProblem = problem && (problem.startsWith("prop") || problem === "too_many_props") ? problem : null;
  return (
    <div class="step-fields">
      <div class="step-kind" role="radiogroup" aria-label={legend ?? t("settings.step_kind")}>
        {(["page", "event"] as const).map((kind) => (
          <label class="radio" key={kind}>
            <input type="radio" name={`${id}-kind`} value={kind} checked={step.kind === kind} onChange={() => onChange({ kind })} />
            {t(`settings.step_${kind}`)}
          </label>
        ))}
      </div>
      <TextField
        id={`${id}-value`}
        label={step.kind === "page" ? t("settings.page_pattern") : t("settings.event_name")}
        value={step.value}
        spellcheck={false}
        autoCapitalize="off"
        placeholder={step.kind === "page" ? "/pricing" : "Signup"}
        invalid={Boolean(valueProblem)}
        hint={hint ? (step.kind === "page" ? t("settings.page_pattern_hint") : t("settings.event_name_hint")) : undefined}
        error={valueProblem ? t(`settings.step_problem_${valueProblem}`) : null}
        onValue={(value) => onChange({ value })}
      />
      {step.kind === "event" ? (
        <fieldset class="props">
          <legend>{t("settings.props")}</legend>
          {step.props.length === 0 ? <p class="hint">{t("settings.props_hint")}</p> : null}
          {step.props.map((prop, index) => (
            <div class="prop-row" key={index}>
              <label class="visually-hidden" for={`${id}-prop-${index}-key`}>
                {t("settings.prop_key")}
              </label>
              <input
                id={`${id}-prop-${index}-key`}
                placeholder={t("settings.prop_key")}
                value={prop.key}
                onInput={(event) =>
                  onChange({ props: step.props.map((p, at) => (at === index ? { ...p, key: (event.target as HTMLInputElement).value } : p)) })
                }
              />
              <span aria-hidden="true">=</span>
              <label class="visually-hidden" for={`${id}-prop-${index}-value`}>
                {t("settings.prop_value")}
              </label>
              <input
                id={`${id}-prop-${index}-value`}
                placeholder={t("settings.prop_value")}
                value={prop.value}
                onInput={(event) =>
                  onChange({ props: step.props.map((p, at) => (at === index ? { ...p, value: (event.target as HTMLInputElement).value } : p)) })
                }
              />
              <button
                type="button"
                class="icon-button"
                aria-label={t("settings.prop_remove", { key: prop.key || String(index + 1) })}
                onClick={() => onChange({ props: step.props.filter((_, at) => at !== index) })}
              >
                ×
              </button>
            </div>
          ))}
          {step.props.length < MAX_PROPS ? (
            <button type="button" class="button ghost small" onClick={() => onChange({ props: [...step.props, { key: "", value: "" }] })}>
              + {t("settings.prop_add")}
            </button>
          ) : null}
          <FieldError id={`${id}-props-error`}>{propProblem ? t(`settings.step_problem_${propProblem}`) : null}</FieldError>
        </fieldset>
      ) : null}
    </div>
  );
}
