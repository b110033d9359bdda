import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, post, upload } from "./api";

/** Answers `status` with `body` to every fetch, and keeps what was asked. */
function answer(status: number, body: string) {
  const fetch = vi.fn(async (_path: string, _init: RequestInit) => new Response(status === 204 ? null : body, { status }));
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

describe("the API's requests", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("send a body as JSON", async () => {
    const fetch = answer(200, '{"ok":true}');
    expect(await post("/api/x", { a: 1 })).toEqual({ ok: true });
    const [path, init] = fetch.mock.calls[0];
    expect(path).toBe("/api/x");
    expect(init.body).toBe('{"a":1}');
    expect((init.headers as Record<string, string>)["content-type"]).toBe("application/json");
  });

  it("send a file as its bytes", async () => {
    const fetch = answer(201, '{"id":3}');
    const file = new File(["date,visitors\n"], "imported_visitors_20250101_20250105.csv");
    expect(await upload("/api/sites/a.com/imports?name=x", file)).toEqual({ id: 3 });
    const [, init] = fetch.mock.calls[0];
    expect(init.method).toBe("POST");
    expect(init.body).toBe(file);
    expect((init.headers as Record<string, string>)["content-type"]).toBe("application/octet-stream");
  });

  it("send no body and no content type without one", async () => {
    const fetch = answer(204, "");
    expect(await api("DELETE", "/api/x")).toBeUndefined();
    const [, init] = fetch.mock.calls[0];
    expect(init.body).toBeUndefined();
    expect((init.headers as Record<string, string>)["content-type"]).toBeUndefined();
  });

  it("throw the API's error", async () => {
    answer(400, '{"error":{"code":"invalid_takeout","message":"a.csv: row 2: bad"}}');
    const refused = await upload("/api/x", new Blob(["x"])).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 400, code: "invalid_takeout", message: "a.csv: row 2: bad" });
  });
});
