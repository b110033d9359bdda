export function AccountPage() {
  return <main class="page">account</main>;
}
