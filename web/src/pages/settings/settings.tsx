export function SettingsPage({ domain, section }: { domain: string; section: string }) {
  return (
    <main class="page">
      {domain} {section}
    </main>
  );
}
