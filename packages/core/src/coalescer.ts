interface Waiter<V> {
  resolve: (value: V | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Turns single-key reads issued in the same tick into one batched read (MGET, getMulti,
 * `= ANY($1)`), at most `maxBatch` keys per batch, and hands each caller its own result.
 * Repeated keys in a batch are fetched once. A failed batch rejects each of its callers with
 * the same error, so results and errors are what single reads would have given.
 */
export class ReadCoalescer<V> {
  readonly #fetch: (keys: string[]) => Promise<(V | undefined)[]>;
  readonly #maxBatch: number;
  #pending = new Map<string, Waiter<V>[]>();
  #scheduled = false;

  constructor(fetch: (keys: string[]) => Promise<(V | undefined)[]>, maxBatch = 256) {
    this.#fetch = fetch;
    this.#maxBatch = maxBatch;
  }

  get(key: string): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      const waiters = this.#pending.get(key);
      if (waiters !== undefined) {
        waiters.push({ resolve, reject });
        return;
      }
      this.#pending.set(key, [{ resolve, reject }]);
      if (this.#pending.size >= this.#maxBatch) {
        this.#flush();
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.size === 0) return;
    this.#pending = new Map();
    const keys = [...batch.keys()];
    let request: Promise<(V | undefined)[]>;
    try {
      request = this.#fetch(keys);
    } catch (error) {
      request = Promise.reject(error);
    }
    request.then(
      (values) => {
        for (let i = 0; i < keys.length; i++) {
          for (const waiter of batch.get(keys[i]!)!) waiter.resolve(values[i]);
        }
      },
      (error: unknown) => {
        for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
      },
    );
  }
}
