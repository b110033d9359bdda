import { Link } from "../components/link";
import { useSession } from "../lib/session";

export function SitesPage() {
  const { sites } = useSession();
  return (
    <main class="page">
      <ul>
        {sites.map((site) => (
          <li key={site.domain}>
            <Link href={`/sites/${encodeURIComponent(site.domain)}`}>{site.domain}</Link>
          </li>
        ))}
      </ul>
    </main>
  );
}
