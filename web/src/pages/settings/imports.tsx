// Imported history: the site's imports of a Plausible export (listed, removed), and the form
// that uploads one, for those who manage the site. The upload is the file's bytes as they
// are (a zip can be hundreds of MiB); the import runs while the request waits.
import { useRef, useState } from "preact/hooks";
import { FieldError } from "../../components/fields";
import { ErrorMessage } from "../../components/status";
import { get, sitePath, upload } from "../../lib/api";
import { currentLanguage, t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { formatWhen, ItemRow, ListCard, RemoveDialog, Result, Submit, useAction } from "./forms";
import { dayRange, describeRows, fileProblem, uploadFailure, uploadPath, uploadProblem, type FileProblem, type ImportResult, type SiteImport } from "./plausible-import";

const PROBLEM_KEYS: Record<FileProblem, string> = {
  missing: "settings.import_file_missing",
  name: "settings.import_file_name",
  empty: "settings.import_file_empty",
  too_large: "settings.import_error_import_too_large",
};

export function ImportedHistory({ domain }: { domain: string }) {
  const [refresh, setRefresh] = useState(0);
  const loaded = useLoad(`imports\n${domain}`, (signal) => get<SiteImport[]>(sitePath(domain, "/imports"), signal), refresh);
  const [removing, setRemoving] = useState<SiteImport | null>(null);
  const reload = () => setRefresh((n) => n + 1);
  const lang = currentLanguage();
  return (
    <>
      <ListCard<SiteImport>
        title={t("settings.imports_title")}
        intro={t("settings.imports_intro")}
        load={loaded}
        none={t("settings.imports_none")}
        row={(item) => (
          <ItemRow key={item.id} name={dayRange(item.first_day, item.last_day, lang)} removeLabel={t("settings.import_remove")} onRemove={() => setRemoving(item)}>
            <span class="item-detail">
              <span class="badge">{item.source === "plausible_csv" ? t("settings.import_source_plausible_csv") : item.source}</span>
              <span class="muted small">{t("settings.import_rows", { count: item.rows })}</span>
              <span class="muted small">{t("settings.imported_on", { when: formatWhen(item.created_at_ms, lang) })}</span>
            </span>
          </ItemRow>
        )}
      >
        <ImportForm domain={domain} onImported={reload} />
      </ListCard>
      <RemoveDialog<SiteImport>
        item={removing}
        title={t("settings.import_remove_title")}
        confirmLabel={t("settings.import_remove")}
        path={(item) => sitePath(domain, `/imports/${item.id}`)}
        text={(item) => t("settings.import_remove_text", { range: dayRange(item.first_day, item.last_day, lang), rows: t("settings.import_rows", { count: item.rows }) })}
        onClose={() => setRemoving(null)}
        onRemoved={reload}
      />
    </>
  );
}

function ImportForm({ domain, onImported }: { domain: string; onImported: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [checked, setChecked] = useState(false);
  const [result, setResult] = useState<ImportResult | null>(null);
  const action = useAction();
  const lang = currentLanguage();
  const problem = fileProblem(file);
  // A chosen file is checked at once; "choose one first" waits for the button.
  const shownProblem = problem && (problem !== "missing" || checked) ? t(PROBLEM_KEYS[problem]) : null;
  const fileError = shownProblem ?? uploadProblem(action.error);
  const failure = uploadFailure(action.error);
  return (
    <form
      class="import-form"
      noValidate
      aria-labelledby="import-add-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setChecked(true);
        if (!file || problem) return;
        setResult(null);
        const imported = await action.run(() => upload<ImportResult>(uploadPath(sitePath(domain, "/imports"), file.name), file));
        if (!imported) return;
        setResult(imported);
        setFile(null);
        setChecked(false);
        if (input.current) input.current.value = "";
        onImported();
      }}
    >
      <h4 id="import-add-title">{t("settings.import_add")}</h4>
      <div class="field">
        <label for="import-file">{t("settings.import_file")}</label>
        <input
          ref={input}
          id="import-file"
          type="file"
          accept=".zip,.csv"
          disabled={action.busy}
          aria-invalid={fileError ? true : undefined}
          aria-describedby="import-file-hint import-file-error"
          onChange={(event) => {
            setFile((event.target as HTMLInputElement).files?.[0] ?? null);
            setResult(null);
            action.reset();
          }}
        />
        <span class="hint" id="import-file-hint">
          {t("settings.import_file_hint")}
        </span>
        <FieldError id="import-file-error">{fileError}</FieldError>
      </div>
      {failure ? <ErrorMessage error={failure} /> : null}
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.import_submit")}</Submit>
        <span class="muted small" role="status" aria-live="polite">
          {action.busy ? t("settings.import_busy") : ""}
        </span>
      </div>
      {result ? (
        <Result>
          <p>
            <strong>
              {result.first_day && result.last_day ? t("settings.import_done_range", { range: dayRange(result.first_day, result.last_day, lang) }) : t("settings.import_done")}
            </strong>
          </p>
          <p>{describeRows(result, lang)}</p>
          {result.skipped_native_days > 0 ? <p class="hint">{t("settings.import_skipped", { count: result.skipped_native_days })}</p> : null}
        </Result>
      ) : null}
    </form>
  );
}
