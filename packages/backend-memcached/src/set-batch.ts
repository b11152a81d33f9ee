import type { Connection, PipelineEntry, Settled } from './connection.js';
import { statusError } from './errors.js';
import { encodeRequest, Opcode, Status, storageExtras } from './protocol.js';

/** One `set`, checked and encoded, waiting for its tick's batch. */
export interface PendingSet extends PipelineEntry {
  value: Uint8Array;
  flags: number;
  exptime: number;
}

interface Waiting {
  entry: PendingSet;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A server's sets of this tick, and their value bytes. */
interface Queue {
  waiting: Waiting[];
  bytes: number;
}

/** Value bytes past which a batch is sent at once rather than at the end of the tick. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

const SETQ = {
  opcode: Opcode.setq,
  extrasBytes: 8,
  extras: (e: PendingSet) => storageExtras(e.flags, e.exptime),
  value: (e: PendingSet) => e.value,
};

const stored = (status: number) => (status === Status.ok ? { value: undefined } : undefined);

/**
 * Turns the `set` calls of one tick into one quiet multi-set per server (SETQ… then NOOP, one
 * write, one answer). Each caller still gets its own result: memcached answers a SETQ only when
 * it fails, and that answer goes back to its caller by opaque. A lone set is sent as a plain
 * SET, settling its caller straight from the answer (no promise or map of the batch's own).
 */
export class SetBatcher {
  readonly #wire: Connection;
  readonly #maxBatch: number;
  /** Waiting sets by server index; `#used` lists the indexes that have some. */
  readonly #queues: (Queue | undefined)[] = [];
  #used: number[] = [];
  /** Keys with a set waiting for the end of the tick. */
  readonly #keys = new Set<string>();
  #scheduled = false;

  constructor(wire: Connection, maxBatch: number) {
    this.#wire = wire;
    this.#maxBatch = maxBatch;
  }

  set(entry: PendingSet): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const index = this.#wire.indexFor(entry.key);
      let queue = this.#queues[index];
      if (queue === undefined) {
        queue = { waiting: [], bytes: 0 };
        this.#queues[index] = queue;
        this.#used.push(index);
      }
      queue.waiting.push({ entry, resolve, reject });
      this.#keys.add(entry.key);
      queue.bytes += entry.value.byteLength;
      if (queue.waiting.length >= this.#maxBatch || queue.bytes >= MAX_BATCH_BYTES) {
        this.#queues[index] = undefined;
        this.#used = this.#used.filter((i) => i !== index);
        this.#send(index, queue.waiting);
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        // nextTick runs once the microtask queue is drained, so it gathers every set that
        // callers issue from promise continuations in this tick (a microtask would not).
        process.nextTick(this.#flush);
      }
    });
  }

  /**
   * Sends the waiting sets now when one of them is for one of `keys`, so that a call made
   * after a set on the same key reaches the server after it (not before, at the end of the tick).
   */
  before(keys: string | readonly string[]): void {
    if (this.#keys.size === 0) return;
    if (typeof keys === 'string') {
      if (this.#keys.has(keys)) this.#flush();
      return;
    }
    for (const key of keys) {
      if (this.#keys.has(key)) {
        this.#flush();
        return;
      }
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const used = this.#used;
    if (used.length === 0) return;
    this.#keys.clear();
    this.#used = [];
    for (const index of used) {
      const queue = this.#queues[index]!;
      this.#queues[index] = undefined;
      this.#send(index, queue.waiting);
    }
  };

  #send(index: number, waiting: Waiting[]): void {
    if (waiting.length === 1) {
      const { entry, resolve, reject } = waiting[0]!;
      this.#wire.send(
        'set',
        entry.key,
        encodeRequest(
          Opcode.set,
          entry.keyBytes,
          8,
          storageExtras(entry.flags, entry.exptime),
          entry.value,
          0,
        ),
        stored,
        index,
        (outcome) => {
          if ('error' in outcome) reject(outcome.error);
          else resolve();
        },
      );
      return;
    }
    this.#wire.quietBatch(
      index,
      waiting.map((w) => w.entry),
      SETQ,
      (entry, response) => statusError('set', response, entry.key),
      (outcome: Settled<unknown[]>) => {
        if ('error' in outcome) {
          for (const w of waiting) w.reject(outcome.error);
          return;
        }
        for (let i = 0; i < waiting.length; i++) {
          const failure = outcome.value[i];
          if (failure === undefined) waiting[i]!.resolve();
          else waiting[i]!.reject(failure);
        }
      },
    );
  }
}
