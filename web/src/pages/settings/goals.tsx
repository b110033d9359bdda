// Goals: pages (path patterns) and custom events (with property conditions) whose visitors
// the dashboard counts as conversions.
import { useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { get, post, sitePath } from "../../lib/api";
import { t } from "../../lib/i18n";
import { CardForm, codeOf, FormError, ItemRow, ListSection, Saved, Submit, useAction, withCode } from "./forms";
import { StepFields } from "./step-fields";
import { describeStep, emptyStep, stepProblem, toApiStep, type StepDraft, type StoredStep } from "./steps";
import type { SectionProps } from "./types";

export type Goal = StoredStep & { id: number; name: string; created_at_ms: number };

export function GoalsSection({ site }: SectionProps) {
  return (
    <ListSection<Goal>
      title={t("settings.section_goals")}
      intro={t("settings.goals_intro")}
      listTitle={t("settings.goals_list")}
      loadKey={`goals\n${site.domain}`}
      load={(signal) => get<Goal[]>(sitePath(site.domain, "/goals"), signal)}
      none={t("settings.goals_none")}
      row={(goal, { remove }) => (
        <ItemRow key={goal.id} name={goal.name} removeLabel={t("common.delete")} onRemove={remove}>
          <span class="item-detail">
            <span class="badge">{t(`settings.step_${goal.kind}`)}</span> <code>{describeStep(goal)}</code>
          </span>
        </ItemRow>
      )}
      form={(reload) => <AddGoal domain={site.domain} onAdded={reload} />}
      remove={{
        title: t("settings.goal_remove_title"),
        confirmLabel: t("common.delete"),
        path: (goal) => sitePath(site.domain, `/goals/${encodeURIComponent(goal.name)}`),
        text: (goal) => t("settings.goal_remove_text", { name: goal.name }),
      }}
    />
  );
}

function AddGoal({ domain, onAdded }: { domain: string; onAdded: () => void }) {
  const [step, setStep] = useState<StepDraft>(emptyStep());
  const [name, setName] = useState("");
  const [checked, setChecked] = useState(false);
  const action = useAction();
  const problem = stepProblem(step);
  const nameError = codeOf(action.error, "goal_exists") ? withCode(action.error?.message ?? "", "goal_exists") : null;
  return (
    <CardForm
      title={t("settings.goal_add")}
      onSubmit={async () => {
        setChecked(true);
        if (problem) return;
        const body = { ...toApiStep(step), ...(name.trim() ? { name: name.trim() } : {}) };
        const added = await action.run(() => post(sitePath(domain, "/goals"), body));
        if (added === undefined) return;
        setStep(emptyStep(step.kind));
        setName("");
        setChecked(false);
        onAdded();
      }}
    >
      <StepFields
        id="goal"
        step={step}
        problem={checked ? problem : null}
        legend={t("settings.goal_kind")}
        onChange={(change) => {
          setStep((before) => ({ ...before, ...change }));
          if (action.error) action.reset();
        }}
      />
      <TextField
        id="goal-name"
        label={t("settings.goal_name")}
        value={name}
        maxLength={120}
        placeholder={step.kind === "page" ? `Visit ${step.value || "/pricing"}` : step.value || "Signup"}
        hint={t("settings.goal_name_hint")}
        error={nameError}
        onValue={(value) => {
          setName(value);
          if (action.error) action.reset();
        }}
      />
      <FormError error={action.error} shown={["goal_exists"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.goal_add_submit")}</Submit>
        <Saved show={action.done}>{t("settings.goal_added")}</Saved>
      </div>
    </CardForm>
  );
}
