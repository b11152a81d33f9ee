import { compareKeys } from './sql.js';

/** One key's write in a batch: the last value set in the tick, and every caller that set it. */
export interface BatchedSet {
  readonly key: string;
  value: Buffer;
  expiresAt: number | null;
  readonly waiters: { resolve(): void; reject(error: unknown): void }[];
}

/** Writes one batch (distinct keys, sorted); settles each entry's waiters itself. */
export type SetBatchWriter = (batch: BatchedSet[]) => Promise<void>;

/** Writes one key alone; settles (or rejects with the caller's error) when the statement has. */
export type SetWriter = (key: string, value: Buffer, expiresAt: number | null) => Promise<unknown>;

/** One caller's increment in a batch. */
export interface BatchedIncr {
  readonly key: string;
  readonly delta: number;
  readonly expiresAt: number | null;
  /** The counter's bytes after this increment, or undefined when the value was not an integer in range. */
  resolve(value: Uint8Array | undefined): void;
  reject(error: unknown): void;
}

/** Runs one round of increments (distinct keys, sorted); settles each entry itself. */
export type IncrBatchWriter = (round: BatchedIncr[]) => Promise<void>;

/** Runs one increment alone: the counter's bytes after it, or undefined when it was not counted. */
export type IncrWriter = (
  key: string,
  delta: number,
  expiresAt: number | null,
) => Promise<Uint8Array | undefined>;

/** Most value bytes one batch carries; a larger value goes in a batch of its own. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * What the write batchers share: one flush at the end of the tick in which the first write
 * arrived, and the batches in flight, which `drain` waits for.
 */
abstract class TickBatcher {
  #scheduled = false;
  readonly #inFlight = new Set<Promise<void>>();
  /** The lone write in flight (settled-handled), if any: at most one, as one goes only when nothing else is in flight. */
  #lone: Promise<void> | undefined;

  /** Sends what is pending now and waits for every batch in flight to settle. */
  async drain(): Promise<void> {
    this.#flushNow();
    await this.settled();
  }

  /** Settles once every batch now in flight has. */
  protected settled(): Promise<unknown> {
    return Promise.allSettled(
      this.#lone === undefined ? [...this.#inFlight] : [...this.#inFlight, this.#lone],
    );
  }

  /**
   * Whether a write arriving now is alone: nothing in flight and nothing waiting. It is then
   * sent at once, by itself, with no batch built around it; the writes that follow it while it
   * is in flight are batched as usual.
   */
  protected alone(): boolean {
    return !this.#scheduled && this.#lone === undefined && this.#inFlight.size === 0;
  }

  /** Whether the lone write is still in flight. */
  protected loneInFlight(): boolean {
    return this.#lone !== undefined;
  }

  /** Tracks the lone write `sent` until it settles, so later batches know to wait for it. */
  protected trackLone(sent: Promise<unknown>): void {
    this.#lone = sent.then(this.#loneSettled, this.#loneSettled);
  }

  readonly #loneSettled = (): void => {
    this.#lone = undefined;
  };

  /** Sends the pending writes; `track` each promise it starts. */
  protected abstract flush(): void;

  protected schedule(): void {
    if (this.#scheduled) return;
    if (this.#inFlight.size === 0 && this.#lone === undefined) {
      // Nothing in flight (a lone caller, or the first of a burst): send now rather than wait
      // for the tick to end; the writes that follow it in this tick go together after it.
      this.flush();
      return;
    }
    this.#scheduled = true;
    // A tick callback runs once the promise jobs in flight have settled: every caller resumed
    // in this tick has queued its write by then.
    process.nextTick(() => this.#flushNow());
  }

  protected track(sent: Promise<void>): void {
    this.#inFlight.add(sent);
    void sent.finally(() => this.#inFlight.delete(sent));
  }

  #flushNow(): void {
    this.#scheduled = false;
    this.flush();
  }
}

/**
 * Gathers the sets issued in one tick and hands them to the writer at the end of it: repeated
 * keys collapse to the last value set (every caller of that key settles with it), keys go out
 * sorted, in batches of at most `maxKeys` keys and about 4 MiB of values.
 */
export class SetBatcher extends TickBatcher {
  readonly #write: SetBatchWriter;
  readonly #writeOne: SetWriter;
  readonly #maxKeys: number;
  #pending = new Map<string, BatchedSet>();
  /** Keys of the batches in flight, with how many batches hold each. */
  readonly #writing = new Map<string, number>();
  /** The key of the last lone set (in flight while `loneInFlight()`). */
  #loneKey: string | undefined;

  constructor(write: SetBatchWriter, writeOne: SetWriter, maxKeys: number) {
    super();
    this.#write = write;
    this.#writeOne = writeOne;
    this.#maxKeys = maxKeys;
  }

  set(key: string, value: Buffer, expiresAt: number | null): Promise<void> {
    if (this.#pending.size === 0 && this.alone()) {
      // A lone set costs one plain upsert: no batch, no entry, no extra promise for its caller.
      const sent = this.#writeOne(key, value, expiresAt);
      this.#loneKey = key;
      this.trackLone(sent);
      return sent as Promise<void>;
    }
    return new Promise<void>((resolve, reject) => {
      const entry = this.#pending.get(key);
      if (entry === undefined) {
        this.#pending.set(key, { key, value, expiresAt, waiters: [{ resolve, reject }] });
      } else {
        // The last write in the tick wins, as it would have if each had run on its own in order.
        entry.value = value;
        entry.expiresAt = expiresAt;
        entry.waiters.push({ resolve, reject });
      }
      this.schedule();
    });
  }

  protected override flush(): void {
    if (this.#pending.size === 0) return;
    const entries = [...this.#pending.values()].sort((a, b) => compareKeys(a.key, b.key));
    this.#pending = new Map();
    // A key still being written by an earlier batch (on another connection, which could commit
    // after this one) waits for it, so the last set of a key is the one that stays.
    const lone = this.loneInFlight() ? this.#loneKey : undefined;
    const after = entries.some((entry) => this.#writing.has(entry.key) || entry.key === lone)
      ? this.settled()
      : undefined;
    let batch: BatchedSet[] = [];
    let bytes = 0;
    for (const entry of entries) {
      if (
        batch.length > 0 &&
        (batch.length >= this.#maxKeys || bytes + entry.value.length > MAX_BATCH_BYTES)
      ) {
        this.#send(batch, after);
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += entry.value.length;
    }
    this.#send(batch, after);
  }

  #send(batch: BatchedSet[], after: Promise<unknown> | undefined): void {
    for (const { key } of batch) this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
    const write = after === undefined ? this.#write(batch) : after.then(() => this.#write(batch));
    this.track(
      write
        .catch((error: unknown) => {
          // The writer settles its entries; this only guards against one that threw before it could.
          for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
        })
        .finally(() => {
          for (const { key } of batch) {
            const left = (this.#writing.get(key) ?? 1) - 1;
            if (left === 0) this.#writing.delete(key);
            else this.#writing.set(key, left);
          }
        }),
    );
  }
}

/**
 * Gathers the increments issued in one tick and hands them to the writer at the end of it, in
 * rounds of distinct keys (a key incremented three times in the tick is in three rounds, run one
 * after another), each round sorted by key and cut into batches of at most `maxKeys`.
 */
export class IncrBatcher extends TickBatcher {
  readonly #write: IncrBatchWriter;
  readonly #writeOne: IncrWriter;
  readonly #maxKeys: number;
  #pending: BatchedIncr[] = [];

  constructor(write: IncrBatchWriter, writeOne: IncrWriter, maxKeys: number) {
    super();
    this.#write = write;
    this.#writeOne = writeOne;
    this.#maxKeys = maxKeys;
  }

  incr(key: string, delta: number, expiresAt: number | null): Promise<Uint8Array | undefined> {
    if (this.#pending.length === 0 && this.alone()) {
      // A lone increment is one plain upsert.
      const sent = this.#writeOne(key, delta, expiresAt);
      this.trackLone(sent);
      return sent;
    }
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.#pending.push({ key, delta, expiresAt, resolve, reject });
      this.schedule();
    });
  }

  protected override flush(): void {
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    const seen = new Map<string, number>();
    const rounds: BatchedIncr[][] = [];
    for (const entry of pending) {
      const round = seen.get(entry.key) ?? 0;
      seen.set(entry.key, round + 1);
      const entries = rounds[round];
      if (entries === undefined) rounds[round] = [entry];
      else entries.push(entry);
    }
    this.track(this.#run(rounds));
  }

  async #run(rounds: BatchedIncr[][]): Promise<void> {
    for (const round of rounds) {
      round.sort((a, b) => compareKeys(a.key, b.key));
      const batches: Promise<void>[] = [];
      for (let i = 0; i < round.length; i += this.#maxKeys) {
        const batch = round.slice(i, i + this.#maxKeys);
        batches.push(
          this.#write(batch).catch((error: unknown) => {
            for (const entry of batch) entry.reject(error);
          }),
        );
      }
      await Promise.all(batches);
    }
  }
}
