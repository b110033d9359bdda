export function DashboardPage({ domain }: { domain: string }) {
  return <main class="page">{domain}</main>;
}
