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
  /** Resolve with `undefined` instead of the reply (a SET's 'OK' says nothing). */
  quiet: boolean;
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

/** Every `incr` of a batch, as one call of the counter script (by SHA, or by text after NOSCRIPT). */
interface CountCall {
  count: true;
  counts: Count[];
  script: string;
  command: string;
  args: Arg[];
}

/** One command of a flush. */
type Op = Write | CountCall;

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

  /** Queues `command key ...` for this tick's batch; resolves with its own reply (`undefined` when `quiet`). */
  send(command: string, key: string, args: Arg[], quiet = false): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#push({ count: false, key, command, args, quiet, resolve, reject });
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
      if (queued.count) counts.push(queued);
      else ops.push(queued);
    }
    if (counts.length > 0) ops.push(countCall(counts, INCR_SHA));
    this.#exec(ops);
  }

  #exec(ops: Op[]): void {
    if (ops.length === 1) {
      // A lone command keeps the client's own routing and redirection handling.
      const op = ops[0]!;
      this.#client.call(op.command, ...op.args).then(
        (reply) => this.#settle(op, null, reply),
        (error: Error) => this.#settle(op, error, undefined),
      );
      return;
    }
    const pipeline = this.#client.pipeline();
    for (const op of ops) pipeline.call(op.command, ...op.args);
    pipeline.exec().then(
      (results) => {
        for (let i = 0; i < ops.length; i++) {
          const result = results?.[i];
          if (result === undefined) this.#settle(ops[i]!, new Error('the pipeline was aborted'), undefined);
          else this.#settle(ops[i]!, result[0], result[1]);
        }
      },
      (error: Error) => {
        for (const op of ops) this.#settle(op, error, undefined);
      },
    );
  }

  #settle(op: Op, error: Error | null, reply: unknown): void {
    if (!op.count) {
      if (error !== null) op.reject(error);
      else op.resolve(op.quiet ? undefined : reply);
      return;
    }
    const { counts, script } = op;
    if (error === null) {
      const replies = reply as unknown[];
      for (let i = 0; i < counts.length; i++) {
        const value = replies[i];
        if (value instanceof Error) counts[i]!.reject(value);
        else counts[i]!.resolve(value);
      }
    } else if (script === INCR_SHA && error.message.startsWith('NOSCRIPT')) {
      this.#exec([countCall(counts, INCR_SCRIPT)]);
    } else if (counts.length > 1 && error.message.startsWith('NOPERM')) {
      // The ACL refused the whole call (a key outside the user's patterns) before it ran:
      // each counter again on its own, so the refusal reaches only its caller.
      this.#exec(counts.map((count) => countCall([count], script)));
    } else {
      for (const count of counts) count.reject(error);
    }
  }
}

/** The counter script over `counts`, by its SHA or by its text. */
function countCall(counts: Count[], script: string): CountCall {
  const args: Arg[] = [script, counts.length];
  for (const count of counts) args.push(count.key);
  for (const count of counts) args.push(count.delta, count.ttl);
  return { count: true, counts, script, command: script === INCR_SHA ? 'evalsha' : 'eval', args };
}
