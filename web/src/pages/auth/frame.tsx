// The frame of the signed-out pages (sign-in, setup, invitation, reset): the brand, the
// language and theme menus, and one card in the middle. No account is asked for.
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { Logo, Preferences } from "../../components/layout";
import { t } from "../../lib/i18n";
import "./auth.css";

export function AuthFrame({ title, children }: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Hitkeep`;
  }, [title]);
  return (
    <>
      <a class="skip-link" href="#main">
        {t("common.skip_to_content")}
      </a>
      <header class="topbar auth-topbar">
        <a href="/" class="brand">
          <Logo />
          <span>Hitkeep</span>
        </a>
        <div class="topbar-nav">
          <Preferences />
        </div>
      </header>
      <main id="main" class="auth-main" tabIndex={-1}>
        <div class="card auth-card">
          <h1>{title}</h1>
          {children}
        </div>
      </main>
    </>
  );
}
