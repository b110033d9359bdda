// Light, dark, or the system's choice (the default), kept in this browser.
export const THEMES = ["auto", "light", "dark"] as const;
export type Theme = (typeof THEMES)[number];

const KEY = "hitkeep.theme";

export function storedTheme(): Theme {
  const value = safeStorage()?.getItem(KEY);
  return (THEMES as readonly string[]).includes(value ?? "") ? (value as Theme) : "auto";
}

/** Applies `theme` to the page (`data-theme` on <html>) and remembers it. */
export function applyTheme(theme: Theme): void {
  if (theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.dataset.theme = theme;
  safeStorage()?.setItem(KEY, theme);
}

/** Whether the page is drawn dark now. */
export function isDark(): boolean {
  const chosen = document.documentElement.dataset.theme;
  if (chosen) return chosen === "dark";
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

/** localStorage, or null where it is blocked (some privacy settings, sandboxed frames). */
export function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
