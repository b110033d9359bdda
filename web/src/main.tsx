// Starts the dashboard: the language and theme first, then the app.
import { render } from "preact";
import { useState } from "preact/hooks";
import { App } from "./app";
import { LanguageContext } from "./components/language";
import { loadLanguage, preferredLanguage, type Language } from "./lib/i18n";
import { applyTheme, safeStorage, storedTheme } from "./lib/theme";
import "./styles.css";

const LANGUAGE_KEY = "hitkeep.language";

function Root({ initial }: { initial: Language }) {
  const [lang, setLang] = useState(initial);
  const switchLanguage = async (next: Language) => {
    await loadLanguage(next);
    safeStorage()?.setItem(LANGUAGE_KEY, next);
    setLang(next);
  };
  return (
    <LanguageContext.Provider value={switchLanguage}>
      {/* A new key draws every string again in the new language. */}
      <App key={lang} />
    </LanguageContext.Provider>
  );
}

async function main() {
  applyTheme(storedTheme());
  const lang = preferredLanguage(safeStorage()?.getItem(LANGUAGE_KEY) ?? null, navigator.languages ?? [navigator.language]);
  await loadLanguage(lang).catch(() => loadLanguage("en"));
  render(<Root initial={lang} />, document.getElementById("app") as HTMLElement);
}

void main();
