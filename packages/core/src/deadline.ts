interface Pending {
  readonly due: number;
  readonly reject: (error: Error) => void;
  settled: boolean;
}

/**
 * Bounds calls by one fixed timeout. Because every call gets the same timeout, deadlines
 * fall due in the order calls start, so a FIFO queue and a single timer replace one timer
 * per call (a cache call is a hot path). The timer stays referenced while calls are pending
 * on purpose: a store promise that never settles must still end in a timeout, not let the
 * process exit mid-call. The late result of a timed-out call is dropped.
 */
export class DeadlineQueue {
  readonly #timeoutMs: number;
  readonly #onTimeout: (operation: string, key: string | undefined) => Error;
  #queue: Pending[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, onTimeout: (operation: string, key: string | undefined) => Error) {
    this.#timeoutMs = timeoutMs;
    this.#onTimeout = onTimeout;
  }

  /**
   * Settles with `promise`, or rejects with a timeout error once the deadline passes.
   * `startedAt` is when the call began (`performance.now()`), when the caller has read it already.
   */
  run<T>(
    promise: Promise<T>,
    operation: string,
    key: string | undefined,
    startedAt = performance.now(),
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        due: startedAt + this.#timeoutMs,
        reject: () => reject(this.#onTimeout(operation, key)),
        settled: false,
      };
      this.#queue.push(entry);
      if (this.#timer === undefined) this.#arm(this.#timeoutMs);
      else if (this.#queue.length - this.#head === 1) this.#timer.ref();
      promise.then(
        (value) => {
          this.#settle(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.#settle(entry);
          reject(error);
        },
      );
    });
  }

  /** Marks a call done and drops settled calls from the front, so the queue stays short. */
  #settle(entry: Pending): void {
    entry.settled = true;
    const queue = this.#queue;
    if (queue[this.#head] !== entry) return;
    do this.#head++;
    while (this.#head < queue.length && queue[this.#head]!.settled);
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
      // Nothing pending: the timer must not keep the process alive.
      this.#timer?.unref();
    }
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(delay)));
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const entry = queue[this.#head]!;
      if (!entry.settled) {
        if (entry.due > now) break;
        entry.settled = true;
        entry.reject(new Error('timeout'));
      }
      this.#head++;
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    this.#arm(this.#queue[this.#head]!.due - now);
  }
}

/** One-off deadline for calls outside the hot path (close). */
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
