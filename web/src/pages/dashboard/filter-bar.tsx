// The filter bar: each active filter as a chip (click to edit, × to remove), "clear all",
// and the button that opens the add-filter dialog.
import { useState } from "preact/hooks";
import { withoutFilter } from "../../lib/dashboard-state";
import { currentLanguage, t } from "../../lib/i18n";
import type { DashboardProps } from "./context";
import { chipText } from "./filters";
import { FilterModal } from "./filter-modal";

export function FilterBar({ props }: { props: DashboardProps }) {
  const { state, update } = props;
  // null: closed; "new": adding; a number: editing that filter.
  const [editing, setEditing] = useState<number | "new" | null>(null);
  const lang = currentLanguage();
  return (
    <div class="filter-bar">
      <button type="button" class="button secondary filter-add" onClick={() => setEditing("new")}>
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path d="M2 3h12l-4.5 5.5V13l-3 1.5V8.5z" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
        </svg>
        {t("dashboard.filter_add")}
      </button>
      {state.filters.length > 0 ? (
        <ul class="chips" aria-label={t("dashboard.filters")}>
          {state.filters.map((filter, index) => {
            const text = chipText(filter, lang);
            return (
              <li class="chip" key={`${index}:${text}`}>
                <button type="button" class="chip-text" title={text} aria-label={t("dashboard.filter_edit", { filter: text })} onClick={() => setEditing(index)}>
                  {text}
                </button>
                <button type="button" class="chip-remove" aria-label={t("dashboard.filter_remove", { filter: text })} onClick={() => update(withoutFilter(state, index))}>
                  ×
                </button>
              </li>
            );
          })}
          {state.filters.length > 1 ? (
            <li>
              <button type="button" class="button ghost small" onClick={() => update(withoutFilter(state))}>
                {t("dashboard.filter_clear")}
              </button>
            </li>
          ) : null}
        </ul>
      ) : null}
      {editing !== null ? (
        <FilterModal props={props} index={editing === "new" ? null : editing} onClose={() => setEditing(null)} />
      ) : null}
    </div>
  );
}
