// At most a few requests at once for the sites list: with many sites, the cards on screen
// load first and no card waits for another's slow answer longer than a slot takes.

export type Limiter = <T>(task: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

/** Runs tasks with at most `slots` running at once, in the order they were asked for. */
export function createLimiter(slots: number): Limiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  const next = () => {
    if (running >= slots) return;
    const start = waiting.shift();
    if (start) start();
  };
  return <T>(task: () => Promise<T>, signal?: AbortSignal) =>
    new Promise<T>((resolve, reject) => {
      const start = () => {
        if (signal?.aborted) {
          reject(signal.reason ?? new DOMException("aborted", "AbortError"));
          next();
          return;
        }
        running += 1;
        let result: Promise<T>;
        try {
          result = task();
        } catch (error) {
          result = Promise.reject(error);
        }
        result.then(resolve, reject).finally(() => {
          running -= 1;
          next();
        });
      };
      waiting.push(start);
      next();
    });
}
