import { CacheClosedError } from '@larder/core';
import type { Cluster, Redis } from 'ioredis';
import { groupBySlot } from './cluster.js';
import { INCR_SCRIPT, INCR_SHA } from './incr-script.js';

type Arg = string | Buffer | number;

/** A single-key command (SET) waiting for the batch. */
interface Write {
  count: false;
  key: string;
  command: string;
  args: Arg[];
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/** An `incr` waiting for the batch; every counter of a batch goes out in one script call. */
interface Count {
  count: true;
  key: string;
  delta: string;
  ttl: string;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

type Queued = Write | Count;

/** One command of a flush and what to do with its reply. */
interface Op {
  command: string;
  args: Arg[];
  settle: (error: Error | null, reply: unknown) => void;
}

/**
 * Sends the writes issued in one tick together: the SETs as one pipeline (one socket write and
 * one parse pass instead of one per command), and the `incr`s as one call of the counter script.
 * Each caller gets its own reply or its own error, what the lone command would have given it. A
 * Cluster pipeline or multi-key script holds one slot, so there a batch is split by slot.
 */
export class WriteCoalescer {
  readonly #client: Redis | Cluster;
  readonly #cluster: boolean;
  readonly #maxBatch: number;
  readonly #closed: () => boolean;
  #pending: Queued[] = [];
  #scheduled = false;
  readonly #flushSoon = () => this.flush();

  constructor(client: Redis | Cluster, maxBatch: number, closed: () => boolean) {
    this.#client = client;
    this.#cluster = client.isCluster;
    this.#maxBatch = maxBatch;
    this.#closed = closed;
  }

  /** Queues `command key ...` for this tick's batch; resolves with its own reply. */
  send(command: string, key: string, args: Arg[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#push({ count: false, key, command, args, resolve, reject });
    });
  }

  /** Queues an `incr` for this tick's batch; resolves with the new value as decimal text. */
  incr(key: string, delta: number, ttl: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#push({ count: true, key, delta: String(delta), ttl, resolve, reject });
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
      for (const queued of batch) queued.reject(error);
      return;
    }
    if (!this.#cluster) {
      this.#send(batch);
      return;
    }
    for (const indexes of groupBySlot(batch, (queued) => queued.key).values()) {
      this.#send(indexes.map((index) => batch[index]!));
    }
  }

  #push(queued: Queued): void {
    this.#pending.push(queued);
    if (this.#pending.length >= this.#maxBatch) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      // A tick, not a microtask: the callers woken by one batch of replies reach the store after
      // several promise hops each, and every one of them runs before the next tick.
      process.nextTick(this.#flushSoon);
    }
  }

  /** One batch, all on one server (one slot in a Cluster). */
  #send(batch: Queued[]): void {
    const ops: Op[] = [];
    const counts: Count[] = [];
    for (const queued of batch) {
      if (queued.count) {
        counts.push(queued);
      } else {
        ops.push({
          command: queued.command,
          args: queued.args,
          settle: (error, reply) => (error === null ? queued.resolve(reply) : queued.reject(error)),
        });
      }
    }
    if (counts.length > 0) ops.push(this.#countOp(counts, INCR_SHA));
    this.#exec(ops);
  }

  #exec(ops: Op[]): void {
    if (ops.length === 1) {
      // A lone command keeps the client's own routing and redirection handling.
      const op = ops[0]!;
      this.#client.call(op.command, ...op.args).then(
        (reply) => op.settle(null, reply),
        (error: Error) => op.settle(error, undefined),
      );
      return;
    }
    const pipeline = this.#client.pipeline();
    for (const op of ops) pipeline.call(op.command, ...op.args);
    pipeline.exec().then(
      (results) => {
        for (let i = 0; i < ops.length; i++) {
          const result = results?.[i];
          if (result === undefined) ops[i]!.settle(new Error('the pipeline was aborted'), undefined);
          else ops[i]!.settle(result[0], result[1]);
        }
      },
      (error: Error) => {
        for (const op of ops) op.settle(error, undefined);
      },
    );
  }

  /** The counter script over `counts`, by its SHA (or its text once the server says NOSCRIPT). */
  #countOp(counts: Count[], script: string): Op {
    const args: Arg[] = [script, counts.length];
    for (const count of counts) args.push(count.key);
    for (const count of counts) args.push(count.delta, count.ttl);
    return {
      command: script === INCR_SHA ? 'evalsha' : 'eval',
      args,
      settle: (error, reply) => {
        if (error === null) {
          const replies = reply as unknown[];
          for (let i = 0; i < counts.length; i++) {
            const value = replies[i];
            if (value instanceof Error) counts[i]!.reject(value);
            else counts[i]!.resolve(value);
          }
        } else if (script === INCR_SHA && error.message.startsWith('NOSCRIPT')) {
          this.#exec([this.#countOp(counts, INCR_SCRIPT)]);
        } else if (counts.length > 1 && error.message.startsWith('NOPERM')) {
          // The ACL refused the whole call (a key outside the user's patterns) before it ran:
          // each counter again on its own, so the refusal reaches only its caller.
          this.#exec(counts.map((count) => this.#countOp([count], script)));
        } else {
          for (const count of counts) count.reject(error);
        }
      },
    };
  }
}
