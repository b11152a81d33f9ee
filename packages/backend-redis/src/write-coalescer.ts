import { CacheClosedError } from '@larder/core';
import type { Cluster, Redis } from 'ioredis';
import { groupBySlot } from './cluster.js';
import { INCR_ONE_SCRIPT, INCR_ONE_SHA, INCR_SCRIPT, INCR_SHA } from './incr-script.js';
import { SET_SCRIPT } from './set-script.js';

type Arg = string | Buffer | number;

/** A `set` or `add` (SET ... NX) waiting for the batch. */
interface Write {
  kind: 'write';
  key: string;
  value: Buffer;
  /** PX in ms as decimal text, '' for no expiry. */
  ttl: string;
  /** SET NX: resolves whether it wrote; a plain SET resolves `undefined`. */
  nx: boolean;
  resolve: (written: boolean | undefined) => void;
  reject: (error: unknown) => void;
}

/** An `incr` waiting for the batch; every counter of a batch goes out in one script call. */
interface Count {
  kind: 'count';
  key: string;
  delta: string;
  ttl: string;
  resolve: (value: number) => void;
  reject: (error: unknown) => void;
}

type Queued = Write | Count;

/** Turns what the client threw into the store's typed error for that call. */
export type ErrorMapper = (error: unknown, operation: string, key: string) => unknown;

/** A batch's writes, or its counters, as one call of a script (by SHA or by text). */
interface ScriptCall {
  kind: 'writes' | 'counts';
  items: Queued[];
  sha: boolean;
  command: string;
  args: Arg[];
}

/** One command of a flush: a lone SET, or a script call over many. */
type Op = Write | ScriptCall;

/** A lone write goes out as a plain SET: a script call costs the server more than one SET. */
const MIN_SCRIPT_WRITES = 2;
/**
 * Most value bytes in one script call. A script holds the server for all of its writes, where a
 * pipeline lets other clients' commands run between them: big values go in several calls.
 */
const MAX_SCRIPT_BYTES = 1024 * 1024;

/**
 * Sends the writes issued in one tick together: the SETs as one call of the set script, and the
 * `incr`s as one call of the counter script. One command carries the batch, so the client builds,
 * times and parses one command instead of one per key (an ioredis pipeline costs several µs per
 * command). Each caller gets its own reply or its own typed error, what the lone command would
 * have given it. A Cluster script holds one slot, so there a batch is split by slot.
 */
export class WriteCoalescer {
  readonly #client: Redis | Cluster;
  readonly #cluster: boolean;
  readonly #maxBatch: number;
  readonly #closed: () => boolean;
  readonly #toError: ErrorMapper;
  #pending: Queued[] = [];
  #scheduled = false;
  /** The batch holds a counter: a batch sends its writes first, so a later write starts the next one. */
  #counting = false;
  /** The ACL refused the set script's command: writes go out as plain SETs from then on. */
  #setScriptDenied = false;
  /**
   * The counter scripts (by SHA) this connection has run, so the server holds them: a known one
   * goes by SHA, else by text. A retry after NOSCRIPT lands after the commands sent behind the first try (a read
   * would overtake the write), so the first call on a connection carries the text. A Cluster
   * spreads the script over masters the store cannot tell apart: there it always goes by text.
   * The set script always goes by text: its calls carry many keys, so the text costs little per
   * key, and no retry can ever reorder a write.
   */
  #knownCounters = new Set<string>();
  readonly #flushSoon = () => this.flush();

  constructor(client: Redis | Cluster, maxBatch: number, closed: () => boolean, toError: ErrorMapper) {
    this.#client = client;
    this.#cluster = client.isCluster;
    this.#maxBatch = maxBatch;
    this.#closed = closed;
    this.#toError = toError;
  }

  /** Queues `SET key value [PX ttl]` for this tick's batch. */
  set(key: string, value: Buffer, ttl: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#push({ kind: 'write', key, value, ttl, nx: false, resolve: resolve as () => void, reject });
    });
  }

  /** Queues `SET key value [PX ttl] NX` for this tick's batch; resolves whether it wrote. */
  add(key: string, value: Buffer, ttl: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#push({
        kind: 'write',
        key,
        value,
        ttl,
        nx: true,
        resolve: resolve as (written: boolean | undefined) => void,
        reject,
      });
    });
  }

  /** Queues an `incr` for this tick's batch; resolves with the new value. */
  incr(key: string, delta: number, ttl: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#push({ kind: 'count', key, delta: String(delta), ttl, resolve, reject });
    });
  }

  /** The connection was (re)made, maybe to another server: scripts go by text until run again. */
  forgetScripts(): void {
    this.#knownCounters.clear();
  }

  /** Sends what is queued now; a command that must not overtake earlier writes calls this first. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#counting = false;
    if (this.#closed()) {
      const error = new CacheClosedError('the redis store is closed', { store: 'redis' });
      for (const queued of batch) this.#fail(queued, error);
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
    // Writes go out before counters: a write issued after a counter must not overtake it.
    if (queued.kind === 'write') {
      if (this.#counting) this.flush();
    } else this.#counting = true;
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
    if (batch.length === 1) {
      const queued = batch[0]!;
      this.#exec([queued.kind === 'write' ? queued : this.#script('counts', [queued])]);
      return;
    }
    const writes: Write[] = [];
    const counts: Count[] = [];
    for (const queued of batch) {
      if (queued.kind === 'write') writes.push(queued);
      else counts.push(queued);
    }
    const ops: Op[] = [];
    if (this.#setScriptDenied) ops.push(...writes);
    else {
      for (const group of byBytes(writes)) {
        ops.push(group.length >= MIN_SCRIPT_WRITES ? this.#script('writes', group) : group[0]!);
      }
    }
    if (counts.length > 0) ops.push(this.#script('counts', counts));
    this.#exec(ops);
  }

  #exec(ops: Op[]): void {
    if (ops.length === 1) {
      // A lone command keeps the client's own routing and redirection handling.
      const op = ops[0]!;
      const sent =
        op.kind === 'write'
          ? this.#client.call('set', ...setArgs(op))
          : this.#client.call(op.command, ...op.args);
      sent.then(
        (reply) => this.#settle(op, null, reply),
        (error: Error) => this.#settle(op, error, undefined),
      );
      return;
    }
    const pipeline = this.#client.pipeline();
    for (const op of ops) {
      if (op.kind === 'write') pipeline.call('set', ...setArgs(op));
      else pipeline.call(op.command, ...op.args);
    }
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
    if (op.kind === 'write') {
      if (error !== null) this.#fail(op, error);
      else op.resolve(op.nx ? reply !== null : undefined);
      return;
    }
    const { items } = op;
    if (error === null) {
      if (op.kind === 'counts') {
        if (!this.#cluster) this.#knownCounters.add(counterSha(items));
        // The one-counter script answers the new value itself.
        if (items.length === 1) {
          (items[0] as Count).resolve(Number(reply));
          return;
        }
      }
      const replies = reply as unknown[];
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const value = replies[i];
        if (value instanceof Error) this.#fail(item, value);
        else if (item.kind === 'count') item.resolve(Number(value));
        else item.resolve(item.nx ? value === 1 : undefined);
      }
    } else if (op.sha && error.message.startsWith('NOSCRIPT')) {
      // The server lost it (SCRIPT FLUSH): by text. Only here can a later command overtake.
      this.#knownCounters.delete(counterSha(items));
      this.#exec([scriptCall(op.kind, items, false)]);
    } else if (items.length > 1 && error.message.startsWith('NOPERM')) {
      // The ACL refused the whole call before it ran: a key outside the user's patterns, or the
      // script command itself. Each item again on its own, so a refusal reaches only its caller.
      if (op.kind === 'writes') {
        if (!/key/i.test(error.message)) this.#setScriptDenied = true;
        this.#exec(items as Write[]);
      } else {
        this.#exec(items.map((count) => this.#script('counts', [count])));
      }
    } else {
      for (const item of items) this.#fail(item, error);
    }
  }

  /** Rejects a caller with the typed error its lone command would have given. */
  #fail(item: Queued, error: unknown): void {
    item.reject(this.#toError(error, item.kind === 'count' ? 'incr' : item.nx ? 'add' : 'set', item.key));
  }

  /** The set script over `writes`, or the counter script over `counts`. */
  #script(kind: ScriptCall['kind'], items: Queued[]): ScriptCall {
    return scriptCall(kind, items, kind === 'counts' && this.#knownCounters.has(counterSha(items)));
  }
}

/** Writes in order, in groups of at most MAX_SCRIPT_BYTES of values (a bigger value alone). */
function byBytes(writes: Write[]): Write[][] {
  const groups: Write[][] = [];
  let group: Write[] = [];
  let bytes = 0;
  for (const write of writes) {
    if (group.length > 0 && bytes + write.value.length > MAX_SCRIPT_BYTES) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(write);
    bytes += write.value.length;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The arguments of a lone `SET key value [PX ttl] [NX]`. */
function setArgs(write: Write): Arg[] {
  const args: Arg[] = write.ttl === '' ? [write.key, write.value] : [write.key, write.value, 'PX', write.ttl];
  if (write.nx) args.push('NX');
  return args;
}

/** The set script over `writes`, or the counter script over `counts`, by SHA or by text. */
function scriptCall(kind: ScriptCall['kind'], items: Queued[], sha: boolean): ScriptCall {
  const args: Arg[] = [];
  if (kind === 'writes') {
    args.push(SET_SCRIPT, items.length);
    for (const item of items) args.push(item.key);
    for (const item of items as Write[]) args.push(item.value, item.ttl, item.nx ? 'NX' : '');
  } else {
    const text = items.length === 1 ? INCR_ONE_SCRIPT : INCR_SCRIPT;
    args.push(sha ? counterSha(items) : text, items.length);
    for (const item of items) args.push(item.key);
    for (const item of items as Count[]) args.push(item.delta, item.ttl);
  }
  return { kind, items, sha, command: sha ? 'evalsha' : 'eval', args };
}

/** The SHA of the counter script for `counts`: one counter has a script of its own. */
function counterSha(counts: Queued[]): string {
  return counts.length === 1 ? INCR_ONE_SHA : INCR_SHA;
}
