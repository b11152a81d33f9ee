import { CacheClosedError } from '@larder/core';
import type { Cluster, Redis } from 'ioredis';
import { groupBySlot } from './cluster.js';

type Arg = string | Buffer | number;

interface Write {
  command: string;
  key: string;
  args: Arg[];
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Sends the single-key commands (SET, the incr script) issued in one tick as one pipeline: one
 * socket write and one parse pass for the batch instead of one per command. Each caller gets its
 * own reply or its own error, exactly what the lone command would have given it. A Cluster
 * pipeline holds one slot (a pipeline across slots would be refused), so a batch is split by slot.
 */
export class WriteCoalescer {
  readonly #client: Redis | Cluster;
  readonly #cluster: boolean;
  readonly #maxBatch: number;
  readonly #closed: () => boolean;
  #pending: Write[] = [];
  #scheduled = false;
  readonly #flushSoon = () => this.flush();

  constructor(client: Redis | Cluster, maxBatch: number, closed: () => boolean) {
    this.#client = client;
    this.#cluster = client.isCluster;
    this.#maxBatch = maxBatch;
    this.#closed = closed;
  }

  /** Queues `command key ...` for the batch of this tick; resolves with its own reply. */
  send(command: string, key: string, args: Arg[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ command, key, args, resolve, reject });
      if (this.#pending.length >= this.#maxBatch) {
        this.flush();
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        // A tick, not a microtask: the callers woken by one batch of replies reach the store after
        // several promise hops each, and every one of them runs before the next tick.
        process.nextTick(this.#flushSoon);
      }
    });
  }

  /** Sends what is queued now; a command that must not overtake earlier writes calls this first. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    if (this.#closed()) {
      const error = new CacheClosedError('the redis store is closed', { store: 'redis' });
      for (const write of batch) write.reject(error);
      return;
    }
    if (batch.length === 1) {
      this.#one(batch[0]!);
    } else if (!this.#cluster) {
      this.#pipeline(batch);
    } else {
      for (const indexes of groupBySlot(batch, (write) => write.key).values()) {
        if (indexes.length === 1) this.#one(batch[indexes[0]!]!);
        else this.#pipeline(indexes.map((index) => batch[index]!));
      }
    }
  }

  #one(write: Write): void {
    // A lone command keeps the client's own routing and redirection handling.
    this.#client.call(write.command, ...write.args).then(write.resolve, write.reject);
  }

  #pipeline(writes: Write[]): void {
    const pipeline = this.#client.pipeline();
    for (const write of writes) pipeline.call(write.command, ...write.args);
    pipeline.exec().then(
      (results) => {
        for (let i = 0; i < writes.length; i++) {
          const write = writes[i]!;
          const result = results?.[i];
          if (result === undefined) write.reject(new Error('the pipeline was aborted'));
          else if (result[0] !== null) write.reject(result[0]);
          else write.resolve(result[1]);
        }
      },
      (error: unknown) => {
        for (const write of writes) write.reject(error);
      },
    );
  }
}
