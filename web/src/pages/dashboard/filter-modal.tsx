// The add (or edit) filter dialog: a dimension (a custom property with its key), a
// condition, and one or more values, suggested from the view's own data as one types.
import { useEffect, useId, useState } from "preact/hooks";
import { Modal } from "../../components/modal";
import { OPERATORS, type Filter, type Operator } from "../../lib/dashboard-state";
import { currentLanguage, t } from "../../lib/i18n";
import { runStats, useLoad } from "../../lib/stats";
import type { DashboardProps } from "./context";
import { DIMENSIONS, GROUPS, dimensionLabel, filterProblem, operatorLabel, suggestionQuery, suggestionsOf, valueLabel, withFilterAt } from "./filters";

const PROPERTY = "event:props:";

/** The typed text, settled: suggestions are asked 250 ms after the last key. */
function useDebounced(value: string, delay = 250): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

export function FilterModal({ props, index, onClose }: { props: DashboardProps; index: number | null; onClose: () => void }) {
  const { state, today, site, update } = props;
  const existing = index === null ? null : state.filters[index];
  const lang = currentLanguage();
  const ids = { dimension: useId(), key: useId(), op: useId(), value: useId(), problem: useId() };

  const [dimension, setDimension] = useState(existing ? (existing.dimension.startsWith(PROPERTY) ? PROPERTY : existing.dimension) : "event:page");
  const [propertyKey, setPropertyKey] = useState(existing?.dimension.startsWith(PROPERTY) ? existing.dimension.slice(PROPERTY.length) : "");
  const [op, setOp] = useState<Operator>(existing?.op ?? "is");
  const [values, setValues] = useState<string[]>(existing?.values ?? []);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  const fullDimension = dimension === PROPERTY ? (propertyKey.trim() ? `${PROPERTY}${propertyKey.trim()}` : PROPERTY) : dimension;
  const typed = useDebounced(text);
  const canSuggest = fullDimension !== PROPERTY;
  const query = canSuggest ? suggestionQuery(state, today, fullDimension, typed) : null;
  const found = useLoad(query ? `${site.domain}\n${JSON.stringify(query)}` : null, (signal) => runStats(site.domain, query!, signal));
  const suggestions = found.data ? suggestionsOf(fullDimension, found.data.results, text, values, lang) : [];

  const addValue = (value: string) => {
    const clean = value.trim();
    if (clean && !values.includes(clean)) setValues([...values, clean]);
    setText("");
    setProblem(null);
  };

  const apply = (event: Event) => {
    event.preventDefault();
    const pending = text.trim() && !values.includes(text.trim()) ? [...values, text.trim()] : values;
    const filter: Filter = { op, dimension: fullDimension, values: pending };
    const error = filterProblem(filter);
    setProblem(error);
    if (error) return;
    onClose();
    update(withFilterAt(state, index, filter));
  };

  return (
    <Modal title={t(index === null ? "dashboard.filter_add_title" : "dashboard.filter_edit_title")} onClose={onClose}>
      <form class="filter-form" onSubmit={apply}>
        <div class="filter-form-row">
          <label class="field" for={ids.dimension}>
            <span>{t("dashboard.filter_dimension")}</span>
            <select
              id={ids.dimension}
              value={dimension}
              onChange={(event) => {
                setDimension((event.target as HTMLSelectElement).value);
                setValues([]);
                setProblem(null);
              }}
            >
              {dimension !== PROPERTY && !DIMENSIONS.some((info) => info.dimension === dimension) ? (
                // A filter a panel set on a dimension the catalogue names otherwise (a region's code).
                <option value={dimension}>{dimensionLabel(dimension)}</option>
              ) : null}
              {GROUPS.map((group) => (
                <optgroup label={t(`dashboard.group_${group}`)} key={group}>
                  {DIMENSIONS.filter((info) => info.group === group).map((info) => (
                    <option value={info.dimension} key={info.key}>
                      {t(`dashboard.dim_${info.key}`)}
                    </option>
                  ))}
                </optgroup>
              ))}
            </select>
          </label>
          {dimension === PROPERTY ? (
            <label class="field" for={ids.key}>
              <span>{t("dashboard.filter_property_key")}</span>
              <input id={ids.key} value={propertyKey} autoComplete="off" spellcheck={false} onInput={(event) => setPropertyKey((event.target as HTMLInputElement).value)} />
            </label>
          ) : null}
          <label class="field" for={ids.op}>
            <span>{t("dashboard.filter_operator")}</span>
            <select id={ids.op} value={op} onChange={(event) => setOp((event.target as HTMLSelectElement).value as Operator)}>
              {OPERATORS.map((operator) => (
                <option value={operator} key={operator}>
                  {operatorLabel(operator)}
                </option>
              ))}
            </select>
          </label>
        </div>

        <div class="field">
          <label for={ids.value}>{t("dashboard.filter_values")}</label>
          {values.length > 0 ? (
            <ul class="value-chips">
              {values.map((value) => (
                <li class="chip" key={value}>
                  <span class="chip-text">{valueLabel(fullDimension, value, lang)}</span>
                  <button type="button" class="chip-remove" aria-label={t("dashboard.filter_remove_value", { value })} onClick={() => setValues(values.filter((v) => v !== value))}>
                    ×
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
          <div class="value-input">
            <input
              id={ids.value}
              value={text}
              autoComplete="off"
              spellcheck={false}
              placeholder={t("dashboard.filter_value_input")}
              aria-describedby={problem ? ids.problem : undefined}
              onInput={(event) => setText((event.target as HTMLInputElement).value)}
              onKeyDown={(event) => {
                if (event.key === "Enter" && text.trim()) {
                  event.preventDefault();
                  addValue(text);
                }
              }}
            />
            <button type="button" class="button secondary" disabled={!text.trim()} onClick={() => addValue(text)}>
              {t("dashboard.filter_add_value")}
            </button>
          </div>
          <span class="hint">{t("dashboard.filter_values_hint")}</span>
        </div>

        {canSuggest ? (
          <div class="suggestions" aria-live="polite" aria-busy={found.loading}>
            <h3 class="suggestions-title muted">{t("dashboard.filter_suggestions")}</h3>
            {suggestions.length > 0 ? (
              <ul>
                {suggestions.map((value) => (
                  <li key={value}>
                    <button type="button" class="suggestion" onClick={() => addValue(value)}>
                      {valueLabel(fullDimension, value, lang)}
                      {valueLabel(fullDimension, value, lang) !== value ? <span class="muted"> {value}</span> : null}
                    </button>
                  </li>
                ))}
              </ul>
            ) : found.loading ? null : (
              <p class="muted suggestions-empty">{t("dashboard.filter_no_suggestions")}</p>
            )}
          </div>
        ) : null}

        {problem ? (
          <p class="error" role="alert" id={ids.problem}>
            {t(problem)}
          </p>
        ) : null}
        <div class="form-actions">
          <button type="button" class="button secondary" onClick={onClose}>
            {t("common.cancel")}
          </button>
          <button type="submit" class="button">
            {t("dashboard.filter_apply")}
          </button>
        </div>
      </form>
    </Modal>
  );
}
