import { describe, expect, it } from "vitest";
import { assertionJSON, creationOptions, decode, encode, registrationJSON, requestOptions } from "./webauthn";

const bytes = (...values: number[]) => new Uint8Array(values).buffer;
const list = (buffer: BufferSource | undefined) => [...new Uint8Array(buffer as ArrayBuffer)];

describe("base64url", () => {
  it("encodes without padding, with the URL alphabet", () => {
    expect(encode(bytes(0xfb, 0xff, 0xfe))).toBe("-__-");
    expect(encode(bytes(1))).toBe("AQ");
    expect(encode(bytes(1, 2))).toBe("AQI");
    expect(encode(new Uint8Array([104, 105]))).toBe("aGk");
    expect(encode(bytes())).toBe("");
  });

  it("encodes a view of part of a buffer only", () => {
    const whole = new Uint8Array([9, 1, 2, 9]);
    expect(encode(whole.subarray(1, 3))).toBe("AQI");
  });

  it("decodes padded, unpadded and URL-safe text to the same bytes", () => {
    expect(list(decode("-__-"))).toEqual([0xfb, 0xff, 0xfe]);
    expect(list(decode("AQ"))).toEqual([1]);
    expect(list(decode("AQ=="))).toEqual([1]);
    expect(list(decode("+//+"))).toEqual([0xfb, 0xff, 0xfe]);
  });

  it("round-trips every byte value", () => {
    const all = new Uint8Array(256).map((_, index) => index);
    expect(list(decode(encode(all)))).toEqual([...all]);
  });
});

describe("the server's options", () => {
  it("turns a registration's binary members into bytes and keeps the rest", () => {
    const options = creationOptions({
      challenge: "AQID",
      rp: { id: "localhost", name: "Hitkeep" },
      user: { id: "BAU", name: "ana@example.com", displayName: "Ana" },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      excludeCredentials: [{ id: "Bwg", type: "public-key", transports: ["internal"] }],
      authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
      timeout: 300000,
    }).publicKey!;
    expect(list(options.challenge)).toEqual([1, 2, 3]);
    expect(list(options.user.id)).toEqual([4, 5]);
    expect(options.user.name).toBe("ana@example.com");
    expect(options.user.displayName).toBe("Ana");
    expect(options.rp).toEqual({ id: "localhost", name: "Hitkeep" });
    expect(list(options.excludeCredentials![0].id)).toEqual([7, 8]);
    expect(options.excludeCredentials![0].transports).toEqual(["internal"]);
    expect(options.authenticatorSelection?.residentKey).toBe("preferred");
    expect(options.timeout).toBe(300000);
  });

  it("gives a registration without exclusions an empty list", () => {
    const options = creationOptions({ challenge: "AQ", user: { id: "AQ", name: "a", displayName: "a" } }).publicKey!;
    expect(options.excludeCredentials).toEqual([]);
  });

  it("moves a sign-in's mediation out of publicKey", () => {
    const signal = new AbortController().signal;
    const request = requestOptions(
      { challenge: "AQID", rpId: "localhost", userVerification: "required", mediation: "conditional", allowCredentials: [{ id: "CQ", type: "public-key" }] },
      signal,
    );
    expect(request.mediation).toBe("conditional");
    expect(request.signal).toBe(signal);
    expect(request.publicKey).not.toHaveProperty("mediation");
    expect(list(request.publicKey!.challenge)).toEqual([1, 2, 3]);
    expect(list(request.publicKey!.allowCredentials![0].id)).toEqual([9]);
    expect(request.publicKey!.rpId).toBe("localhost");
  });

  it("asks modally when the server names no mediation", () => {
    const request = requestOptions({ challenge: "AQ" });
    expect(request).not.toHaveProperty("mediation");
    expect(request).not.toHaveProperty("signal");
    expect(request.publicKey!.allowCredentials).toEqual([]);
  });
});

describe("the authenticator's answers", () => {
  it("sends a new credential with its binary members in base64url", () => {
    const credential = {
      id: "AQI",
      rawId: bytes(1, 2),
      type: "public-key",
      response: { attestationObject: bytes(3), clientDataJSON: bytes(4), getTransports: () => ["internal", "hybrid"] },
      getClientExtensionResults: () => ({ credProps: { rk: true } }),
    } as unknown as PublicKeyCredential;
    expect(registrationJSON(credential)).toEqual({
      id: "AQI",
      rawId: "AQI",
      type: "public-key",
      response: { attestationObject: "Aw", clientDataJSON: "BA", transports: ["internal", "hybrid"] },
      extensions: { credProps: { rk: true } },
    });
  });

  it("sends an assertion, with a null user handle when the authenticator gives none", () => {
    const base = {
      id: "AQI",
      rawId: bytes(1, 2),
      type: "public-key",
      getClientExtensionResults: () => ({}),
    };
    const withHandle = { ...base, response: { authenticatorData: bytes(5), clientDataJSON: bytes(6), signature: bytes(7), userHandle: bytes(8) } };
    expect(assertionJSON(withHandle as unknown as PublicKeyCredential)).toEqual({
      id: "AQI",
      rawId: "AQI",
      type: "public-key",
      response: { authenticatorData: "BQ", clientDataJSON: "Bg", signature: "Bw", userHandle: "CA" },
      extensions: {},
    });
    const without = { ...base, response: { ...withHandle.response, userHandle: null } };
    expect(assertionJSON(without as unknown as PublicKeyCredential).response.userHandle).toBeNull();
  });
});
