import { Component, type ComponentChildren } from "preact";
import { ErrorMessage } from "./status";

/** Draws a page's unexpected error instead of a blank screen. */
export class ErrorBoundary extends Component<{ children: ComponentChildren }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: unknown) {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  render() {
    if (this.state.error) {
      return (
        <main class="page narrow">
          <ErrorMessage error={this.state.error} />
        </main>
      );
    }
    return this.props.children;
  }
}
