/**
 * Settles with `promise`, or rejects with `onTimeout()` after `ms`. The late result of a
 * timed-out call is dropped. The timer stays referenced on purpose: a store promise that
 * never settles must still end in a timeout, not let the process exit mid-call.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
