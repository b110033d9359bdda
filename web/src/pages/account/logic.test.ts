import { describe, expect, it } from "vitest";
import { formatDate, groupKey, methodParts, recoveryCodesFile, svgImage, validTokenName } from "./logic";

describe("account logic", () => {
  it("formats moments in the language asked, in UTC here", () => {
    expect(formatDate(Date.UTC(2026, 11, 7, 14, 5), "en", "UTC")).toBe("Dec 7, 2026, 2:05 PM");
    expect(formatDate(Date.UTC(2026, 11, 7, 14, 5), "de", "UTC")).toBe("07.12.2026, 14:05");
  });

  it("writes the recovery codes' file", () => {
    const file = recoveryCodesFile(["aaaa-bbbb-cccc-dddd", "eeee-ffff-gggg-hhhh"], "ana@example.com", "https://stats.example.com", new Date(Date.UTC(2026, 0, 2)));
    expect(file.split("\n")).toEqual([
      "Hitkeep recovery codes for ana@example.com at https://stats.example.com",
      "Made 2026-01-02. Each code signs in once, instead of an authenticator code.",
      "",
      "aaaa-bbbb-cccc-dddd",
      "eeee-ffff-gggg-hhhh",
      "",
    ]);
  });

  it("groups the key by four", () => {
    expect(groupKey("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")).toBe("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP");
    expect(groupKey("ABCDEF")).toBe("ABCD EF");
    expect(groupKey("ABCD")).toBe("ABCD");
  });

  it("checks token names as the server does", () => {
    expect(validTokenName("ci-export_1.0")).toBe(true);
    expect(validTokenName("")).toBe(false);
    expect(validTokenName("with space")).toBe(false);
    expect(validTokenName("é")).toBe(false);
    expect(validTokenName("x".repeat(64))).toBe(true);
    expect(validTokenName("x".repeat(65))).toBe(false);
  });

  it("makes the server's SVG an image address, never markup in the page", () => {
    const svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><title>é</title></svg>';
    const address = svgImage(svg);
    expect(address.startsWith("data:image/svg+xml;base64,")).toBe(true);
    const decoded = new TextDecoder().decode(Uint8Array.from(atob(address.split(",")[1]), (c) => c.charCodeAt(0)));
    expect(decoded).toBe(svg);
  });

  it("splits a session's method", () => {
    expect(methodParts("password+totp")).toEqual(["password", "totp"]);
    expect(methodParts("passkey")).toEqual(["passkey"]);
  });
});
