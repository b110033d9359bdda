import { describe, expect, it } from "vitest";
import { liveMode, parseRealtime } from "./realtime";

describe("staying live", () => {
  it("streams for a signed-in person, polls under a share link or without a stream", () => {
    expect(liveMode({ shared: false, hasEventSource: true, streamFailed: false })).toBe("stream");
    // EventSource cannot send the X-Hitkeep-Share header.
    expect(liveMode({ shared: true, hasEventSource: true, streamFailed: false })).toBe("poll");
    expect(liveMode({ shared: false, hasEventSource: false, streamFailed: false })).toBe("poll");
    expect(liveMode({ shared: false, hasEventSource: true, streamFailed: true })).toBe("poll");
  });
  it("reads the stream's events", () => {
    expect(parseRealtime('{"visitors":3,"pageviews":12,"pages":[["/",2]],"sources":[],"at_ms":5}')).toEqual({
      visitors: 3,
      pageviews: 12,
      pages: [["/", 2]],
      sources: [],
      at_ms: 5,
    });
    expect(parseRealtime("not json")).toBeNull();
    expect(parseRealtime('{"visitors":"3"}')).toBeNull();
  });
});
