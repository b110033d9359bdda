export function SharePage({ code }: { code: string }) {
  return <main class="page">{code.length}</main>;
}
