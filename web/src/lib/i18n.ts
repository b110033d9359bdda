// Translations: flat JSON files per language and area (`locales/<lang>/<area>.json`), a key
// `area.name` per string. English is built in (and the fallback of any missing key); the
// other languages are separate chunks loaded when chosen. Numbers and dates are formatted
// by `Intl` in the same language (see format.ts).

export const LANGUAGES = ["en", "de", "es", "fr", "it"] as const;
export type Language = (typeof LANGUAGES)[number];

/** Each language's own name, for the language menu. */
export const LANGUAGE_NAMES: Record<Language, string> = {
  en: "English",
  de: "Deutsch",
  es: "Español",
  fr: "Français",
  it: "Italiano",
};

type Messages = Record<string, string>;

const english = flatten(import.meta.glob<Messages>("../locales/en/*.json", { eager: true, import: "default" }));
const others = import.meta.glob<Messages>(["../locales/*/*.json", "!../locales/en/*.json"], { import: "default" });

let language: Language = "en";
let messages: Messages = english;

function area(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1, -".json".length);
}

function flatten(files: Record<string, Messages>): Messages {
  const out: Messages = {};
  for (const [path, entries] of Object.entries(files)) {
    for (const [key, value] of Object.entries(entries)) out[`${area(path)}.${key}`] = value;
  }
  return out;
}

/** The language to start in: the one chosen before, else the browser's, else English. */
export function preferredLanguage(stored: string | null, browser: readonly string[]): Language {
  if (stored && (LANGUAGES as readonly string[]).includes(stored)) return stored as Language;
  for (const tag of browser) {
    const base = tag.toLowerCase().split("-")[0];
    if ((LANGUAGES as readonly string[]).includes(base)) return base as Language;
  }
  return "en";
}

/** Loads `lang`'s strings and makes it the current language. */
export async function loadLanguage(lang: Language): Promise<void> {
  if (lang === "en") {
    messages = english;
  } else {
    const prefix = `../locales/${lang}/`;
    const files = await Promise.all(
      Object.entries(others)
        .filter(([path]) => path.startsWith(prefix))
        .map(async ([path, load]) => [path, await load()] as const),
    );
    messages = { ...english, ...flatten(Object.fromEntries(files)) };
  }
  language = lang;
  if (typeof document !== "undefined") document.documentElement.lang = lang;
}

/** The current language. */
export function currentLanguage(): Language {
  return language;
}

/**
 * The string of `key` in the current language, with `{name}` placeholders filled from
 * `vars`. With a numeric `count`, `key.one`/`key.other` (the language's plural rules) are
 * tried first.
 */
export function t(key: string, vars: Record<string, string | number> = {}): string {
  let template: string | undefined;
  if (typeof vars.count === "number") {
    const form = new Intl.PluralRules(language).select(vars.count);
    template = messages[`${key}.${form}`] ?? messages[`${key}.other`];
  }
  template ??= messages[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? new Intl.NumberFormat(language).format(value) : value;
  });
}

/** For tests: the strings of a language, as loaded. */
export function messagesFor(): Readonly<Messages> {
  return messages;
}
