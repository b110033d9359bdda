import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Language } from "../lib/i18n";

/** Switches the app's language (loads its strings, then draws everything again). */
export const LanguageContext = createContext<(lang: Language) => void>(() => {});

export function useLanguageSwitch(): (lang: Language) => void {
  return useContext(LanguageContext);
}
