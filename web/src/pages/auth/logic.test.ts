import { describe, expect, it } from "vitest";
import { ApiError } from "../../lib/api";
import { errorText, loginPath, passwordStrength, safeNext, waitSeconds } from "./logic";

const origin = "https://stats.example.com";

describe("safeNext", () => {
  it("keeps a path of this origin with its query and fragment", () => {
    expect(safeNext("/sites/example.com?period=7d#top", origin)).toBe("/sites/example.com?period=7d#top");
    expect(safeNext("/account", origin)).toBe("/account");
  });

  it("refuses other sites, protocol-relative and backslash tricks", () => {
    for (const next of [
      "https://evil.example/",
      "//evil.example/path",
      "/\\evil.example",
      "javascript:alert(1)",
      "evil.example",
      "",
      null,
      undefined,
    ]) {
      expect(safeNext(next, origin), String(next)).toBe("/");
    }
  });

  it("does not come back to a sign-in page", () => {
    expect(safeNext("/login?next=/account", origin)).toBe("/");
    expect(safeNext("/setup?code=x", origin)).toBe("/");
    expect(safeNext("/reset", origin)).toBe("/");
    expect(safeNext("/invite/", origin)).toBe("/");
    expect(safeNext("/loginx", origin)).toBe("/loginx");
  });

  it("normalises dot segments without leaving the origin", () => {
    expect(safeNext("/a/../account", origin)).toBe("/account");
  });
});

describe("loginPath", () => {
  it("carries the page to come back to", () => {
    expect(loginPath("/sites/example.com?period=7d")).toBe("/login?next=%2Fsites%2Fexample.com%3Fperiod%3D7d");
    expect(loginPath("/")).toBe("/login");
    expect(loginPath("")).toBe("/login");
  });
});

describe("passwordStrength", () => {
  it("says what the server refuses", () => {
    expect(passwordStrength("")).toBe("too_short");
    expect(passwordStrength("nine char")).toBe("too_short");
    expect(passwordStrength("ana.lopez@example.com", "Ana.Lopez@example.com")).toBe("is_email");
    expect(passwordStrength("ana.lopez1", "ana.lopez1@example.com")).toBe("is_email");
  });

  it("counts characters, not UTF-16 units", () => {
    expect(passwordStrength("😀😀😀😀😀😀😀😀😀")).toBe("too_short");
  });

  it("grades length and variety", () => {
    expect(passwordStrength("aaaaaaaaaaaa")).toBe("weak");
    expect(passwordStrength("abcdefghij")).toBe("weak");
    expect(passwordStrength("abcdefghijkl")).toBe("fair");
    expect(passwordStrength("Abcdefgh1!")).toBe("fair");
    expect(passwordStrength("Tr0ub4dor&3xyz")).toBe("strong");
    expect(passwordStrength("correct horse battery")).toBe("strong");
    expect(passwordStrength("a passphrase nobody guesses 7")).toBe("strong");
  });
});

describe("errorText", () => {
  it("gives known codes their sentence", () => {
    expect(errorText(new ApiError(401, "invalid_credentials", "wrong e-mail address or password"))).toBe(
      "The e-mail address or the password is wrong.",
    );
  });

  it("says how long to wait", () => {
    expect(waitSeconds("too many attempts; try again in 8 s")).toBe(8);
    expect(waitSeconds("slow down")).toBeNull();
    expect(errorText(new ApiError(429, "too_many_attempts", "too many attempts; try again in 8 s"))).toBe(
      "Too many attempts. Try again in 8 seconds.",
    );
  });

  it("falls back to the server's message", () => {
    expect(errorText(new ApiError(500, "internal", "internal error, see the server log"))).toBe("internal error, see the server log");
    expect(errorText(new Error("boom"))).toBe("boom");
  });
});
