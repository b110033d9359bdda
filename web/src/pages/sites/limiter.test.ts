import { describe, expect, it } from "vitest";
import { createLimiter } from "./limiter";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("createLimiter", () => {
  it("runs at most `slots` tasks at once, the next when one ends", async () => {
    const limit = createLimiter(2);
    const tasks = [deferred<number>(), deferred<number>(), deferred<number>()];
    const started: number[] = [];
    const results = tasks.map((task, index) =>
      limit(() => {
        started.push(index);
        return task.promise;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    tasks[1].resolve(1);
    await tick();
    expect(started).toEqual([0, 1, 2]);
    tasks[0].resolve(0);
    tasks[2].resolve(2);
    expect(await Promise.all(results)).toEqual([0, 1, 2]);
  });

  it("frees the slot of a failed task", async () => {
    const limit = createLimiter(1);
    const failed = limit(() => Promise.reject(new Error("boom")));
    const thrown = limit(() => {
      throw new Error("sync");
    });
    const after = limit(() => Promise.resolve("ok"));
    await expect(failed).rejects.toThrow("boom");
    await expect(thrown).rejects.toThrow("sync");
    expect(await after).toBe("ok");
  });

  it("skips a waiting task whose signal was aborted", async () => {
    const limit = createLimiter(1);
    const first = deferred<string>();
    const running = limit(() => first.promise);
    const controller = new AbortController();
    let ran = false;
    const skipped = limit(() => {
      ran = true;
      return Promise.resolve("no");
    }, controller.signal);
    const later = limit(() => Promise.resolve("yes"));
    controller.abort();
    first.resolve("first");
    await expect(skipped).rejects.toBeDefined();
    expect(await running).toBe("first");
    expect(await later).toBe("yes");
    expect(ran).toBe(false);
  });
});
