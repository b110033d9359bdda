import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { post } from "../lib/api";
import { LANGUAGE_NAMES, LANGUAGES, currentLanguage, t, type Language } from "../lib/i18n";
import { useSession } from "../lib/session";
import { applyTheme, storedTheme, THEMES, type Theme } from "../lib/theme";
import { Link } from "./link";
import { useLanguageSwitch } from "./language";

/** The frame of every signed-in page: the bar with the sites, the account, language and theme. */
export function Layout({ children }: { children: ComponentChildren }) {
  const session = useSession();
  return (
    <>
      <a class="skip-link" href="#main">
        {t("common.skip_to_content")}
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          <Logo />
          <span>Hitkeep</span>
        </Link>
        {session.account ? (
          <nav class="topbar-nav" aria-label={t("common.main_navigation")}>
            <Link href="/">{t("common.sites")}</Link>
            <Link href="/account">{t("common.account")}</Link>
          </nav>
        ) : null}
        <div class="topbar-preferences">
          <Preferences />
        </div>
        {session.account ? <SignOut /> : null}
      </header>
      <div id="main" tabIndex={-1}>
        {children}
      </div>
    </>
  );
}

/** The language and theme menus (also on a share link's page). */
export function Preferences() {
  const switchLanguage = useLanguageSwitch();
  const [theme, setTheme] = useState<Theme>(storedTheme);
  return (
    <>
      <label class="compact-select">
        <span class="visually-hidden">{t("common.language")}</span>
        <select value={currentLanguage()} onChange={(event) => switchLanguage((event.target as HTMLSelectElement).value as Language)}>
          {LANGUAGES.map((lang) => (
            <option value={lang} key={lang}>
              {LANGUAGE_NAMES[lang]}
            </option>
          ))}
        </select>
      </label>
      <label class="compact-select">
        <span class="visually-hidden">{t("common.theme")}</span>
        <select
          value={theme}
          onChange={(event) => {
            const chosen = (event.target as HTMLSelectElement).value as Theme;
            applyTheme(chosen);
            setTheme(chosen);
            window.dispatchEvent(new Event("hitkeep:theme"));
          }}
        >
          {THEMES.map((name) => (
            <option value={name} key={name}>
              {t(`common.theme_${name}`)}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

function SignOut() {
  return (
    <button
      type="button"
      class="button ghost topbar-sign-out"
      onClick={async () => {
        try {
          await post("/api/auth/logout");
        } finally {
          window.location.assign("/login");
        }
      }}
    >
      {t("common.sign_out")}
    </button>
  );
}

export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <rect x="2" y="12" width="5" height="10" rx="1.5" fill="currentColor" opacity="0.55" />
      <rect x="9.5" y="6" width="5" height="16" rx="1.5" fill="currentColor" opacity="0.8" />
      <rect x="17" y="2" width="5" height="20" rx="1.5" fill="currentColor" />
    </svg>
  );
}
