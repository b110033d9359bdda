// The JSON API of this origin. Every request goes to the page's own origin (the content
// security policy allows nothing else); people are recognised by their session cookie, a
// share link's visitors by the `X-Hitkeep-Share` header.

/** An error answer: Hitkeep's `{"error": {"code", "message"}}`, or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let shareCode: string | null = null;

/** Asks every later request as the share link `code` (a signed-out visitor of that link). */
export function useShareCode(code: string | null): void {
  shareCode = code;
}

/** The share link the app runs under, if any. */
export function currentShareCode(): string | null {
  return shareCode;
}

/** Headers every request carries. */
export function authHeaders(): Record<string, string> {
  return shareCode ? { "x-hitkeep-share": shareCode } : {};
}

/** Whether `body` is a file (or other Blob), sent as it is rather than as JSON. */
function isBlob(body: unknown): body is Blob {
  return typeof Blob !== "undefined" && body instanceof Blob;
}

/**
 * Sends a request and answers its JSON body; an error answer throws an `ApiError`. A body
 * is sent as JSON, except a Blob (a File), which is sent as its bytes (`application/octet-stream`).
 */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  options: { signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...authHeaders() };
  const raw = isBlob(body);
  if (body !== undefined) headers["content-type"] = raw ? "application/octet-stream" : "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) throw errorOf(response.status, parsed);
  return parsed as T;
}

function errorOf(status: number, body: unknown): ApiError {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (error && typeof error === "object") {
    const { code, message } = error as { code?: string; message?: string };
    return new ApiError(status, code ?? "error", message ?? code ?? `HTTP ${status}`);
  }
  if (typeof error === "string") return new ApiError(status, "error", error);
  return new ApiError(status, "error", `HTTP ${status}`);
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>("GET", path, undefined, { signal });
export const post = <T>(path: string, body?: unknown, signal?: AbortSignal) => api<T>("POST", path, body ?? {}, { signal });
export const put = <T>(path: string, body?: unknown) => api<T>("PUT", path, body ?? {});
export const patch = <T>(path: string, body?: unknown) => api<T>("PATCH", path, body ?? {});
export const del = <T>(path: string, body?: unknown) => api<T>("DELETE", path, body);
/** POSTs a file's bytes as the body (the request streams it; nothing is read into memory here). */
export const upload = <T>(path: string, file: Blob, signal?: AbortSignal) => api<T>("POST", path, file, { signal });

/** The path of a site's route: `/api/sites/{domain}{rest}`. */
export function sitePath(domain: string, rest = ""): string {
  return `/api/sites/${encodeURIComponent(domain)}${rest}`;
}

/** A site as `GET /api/sites` shows it. */
export interface Site {
  domain: string;
  timezone: string;
  created_at_ms: number;
  rules: Record<string, unknown>;
  /** Days its events are kept (0: for ever); null or absent: the instance's default. */
  retention_days?: number | null;
  /** What the asker may do there: `view`, `read`, `write`, `manage`, `own`. */
  access?: string;
}

/** The person signed in (`GET /api/account`). */
export interface Account {
  id: number;
  email: string;
  name: string;
  /** Instance role: `owner`, `admin` or `member`. */
  role: string;
  has_password: boolean;
  has_second_factor: boolean;
  second_factor_required: boolean;
  sites: { domain: string; role: string }[];
}
