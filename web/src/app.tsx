// The app: who is using it (session), the page the path names, and the frame around it.
import { useEffect, useState } from "preact/hooks";
import { ErrorBoundary } from "./components/error-boundary";
import { Layout } from "./components/layout";
import { lazy } from "./components/lazy";
import { Link } from "./components/link";
import { ErrorMessage, Spinner } from "./components/status";
import { get, type Account, type Site } from "./lib/api";
import { t } from "./lib/i18n";
import { matchPath, navigate, useLocation } from "./lib/router";
import { SessionContext, start, type Session, type Start } from "./lib/session";
import { loginPath } from "./pages/auth/logic";

const SitesPage = lazy(() => import("./pages/sites").then((m) => m.SitesPage));
const DashboardPage = lazy(() => import("./pages/dashboard/dashboard").then((m) => m.DashboardPage));
const SettingsPage = lazy(() => import("./pages/settings/settings").then((m) => m.SettingsPage));
const AccountPage = lazy(() => import("./pages/account").then((m) => m.AccountPage));
const SharePage = lazy(() => import("./pages/share").then((m) => m.SharePage));
const LoginPage = lazy(() => import("./pages/auth/login").then((m) => m.LoginPage));
const SetupPage = lazy(() => import("./pages/auth/setup").then((m) => m.SetupPage));
const InvitePage = lazy(() => import("./pages/auth/invite").then((m) => m.InvitePage));
const ResetPage = lazy(() => import("./pages/auth/reset").then((m) => m.ResetPage));

/** The pages of people not signed in: drawn without asking who is signed in. */
function SignedOutPage({ path }: { path: string }) {
  if (matchPath("/login", path)) return <LoginPage />;
  if (matchPath("/setup", path)) return <SetupPage />;
  if (matchPath("/invite", path)) return <InvitePage />;
  if (matchPath("/reset", path)) return <ResetPage />;
  return null;
}

const SIGNED_OUT_PATHS = ["/login", "/setup", "/invite", "/reset"];

/** The pages of a signed-in person, by path pattern. */
function Page({ path }: { path: string }) {
  let params: Record<string, string> | null;
  if (matchPath("/", path)) return <SitesPage />;
  if ((params = matchPath("/sites/:domain/settings/:section?", path))) {
    return <SettingsPage domain={params.domain} section={params.section ?? "general"} />;
  }
  if ((params = matchPath("/sites/:domain", path))) return <DashboardPage domain={params.domain} />;
  if (matchPath("/account", path)) return <AccountPage />;
  return <NotFound />;
}

function NotFound() {
  return (
    <main class="page narrow">
      <h1>{t("common.not_found")}</h1>
      <p>
        <Link href="/">{t("common.back_to_sites")}</Link>
      </p>
    </main>
  );
}

export function App() {
  const { path } = useLocation();
  const share = matchPath("/share/:code", path);
  let page;
  if (share) page = <SharePage code={share.code} />;
  else if (SIGNED_OUT_PATHS.some((signedOut) => matchPath(signedOut, path))) page = <SignedOutPage path={path} />;
  else page = <SignedIn path={path} />;
  return <ErrorBoundary>{page}</ErrorBoundary>;
}

/** A person without the second factor the instance requires may only use their account page. */
function mustEnrol(account: Account): boolean {
  return account.second_factor_required && !account.has_second_factor;
}

function SignedIn({ path }: { path: string }) {
  const [begun, setBegun] = useState<Start | null>(null);
  const [sites, setSites] = useState<Site[]>([]);
  const [failure, setFailure] = useState<Error | null>(null);
  const enrolOnly = begun?.kind === "signed_in" && mustEnrol(begun.account);
  useEffect(() => {
    if (enrolOnly && path !== "/account") navigate("/account", { replace: true });
  }, [enrolOnly, path]);
  useEffect(() => {
    start().then((result) => {
      if (result.kind === "sign_in") {
        const here = window.location.pathname + window.location.search + window.location.hash;
        window.location.assign(loginPath(here));
        return;
      }
      if (result.kind === "signed_in") setSites(result.sites);
      setBegun(result);
    }, setFailure);
  }, []);
  if (failure) {
    return (
      <main class="page narrow">
        <ErrorMessage error={failure} />
      </main>
    );
  }
  if (!begun || begun.kind === "sign_in") return <Spinner />;
  if (begun.kind === "setup_required") {
    return (
      <main class="page narrow">
        <h1>Hitkeep</h1>
        <p>{t("common.setup_required")}</p>
      </main>
    );
  }
  if (enrolOnly && path !== "/account") return <Spinner />;
  const session: Session = {
    account: begun.account,
    sites,
    reloadSites: async () => setSites(await get<Site[]>("/api/sites")),
    share: null,
  };
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <Page path={path} />
      </Layout>
    </SessionContext.Provider>
  );
}
