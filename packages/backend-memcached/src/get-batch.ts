import type { Response } from 'memjs';
import type { Connection, PipelineEntry } from './connection.js';
import type { Deadline } from './deadlines.js';
import { statusError } from './errors.js';
import { FLAGS_UNKNOWN } from './expiry.js';
import { encodeRequest, Opcode, Status } from './protocol.js';

/** What a read returns: the value as stored, the item flags (which hold the expiry) and the CAS token. */
export interface Hit {
  value: Buffer;
  flags: number;
  cas: Buffer;
}

/** One caller of a key: what it makes of the hit (or miss), and where that goes. */
interface Waiter {
  pick: (hit: Hit | undefined) => unknown;
  resolve: (value: never) => void;
  reject: (error: unknown) => void;
}

/** A key of the batch with everyone waiting for it. */
interface Wanted extends PipelineEntry {
  waiters: Waiter[];
  answered: boolean;
}

const GETKQ = { opcode: Opcode.getkq, extrasBytes: 0 };

/**
 * Turns the `get`, `has` and `ttl` calls of one tick into one multi-get per server (GETKQ…
 * then NOOP, one write); a key asked for twice is read once. A lone key goes as a plain GET.
 *
 * While a server has a read batch in flight, new reads for it wait and leave together when
 * that batch is answered. Without this, callers that fell out of step (each resumed on its
 * own turn of the event loop) each send a batch of one, and on an idle server every answer
 * comes back on its own, so they never fall back in step: a batch per caller, at the cost of a
 * request each. Held reads get their deadline from when the first of them was asked for.
 *
 * A hit settles its callers as soon as its answer is read, before the rest of the batch (misses,
 * which GETKQ does not answer, settle on the NOOP): memcached answers a long batch in parts, and
 * callers get on with their work while the rest arrives. A failure fails the callers not yet
 * settled.
 */
export class GetBatcher {
  readonly #wire: Connection;
  readonly #maxBatch: number;
  /** Keys waiting to be sent, per server index. */
  readonly #pending = new Map<number, Map<string, Wanted>>();
  /** Read batches in flight, per server index. */
  readonly #inFlight: number[] = [];
  /** The deadline of the reads held back for a server, from when the first was asked for. */
  readonly #held: (Deadline | undefined)[] = [];
  #scheduled = false;

  constructor(wire: Connection, maxBatch: number) {
    this.#wire = wire;
    this.#maxBatch = maxBatch;
  }

  /** Reads `key` (on server `index`); resolves what `pick` makes of the hit or miss. */
  get<T>(key: string, index: number, pick: (hit: Hit | undefined) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { pick, resolve: resolve as (value: never) => void, reject };
      let batch = this.#pending.get(index);
      if (batch === undefined) {
        batch = new Map();
        this.#pending.set(index, batch);
      }
      const wanted = batch.get(key);
      if (wanted !== undefined) {
        wanted.waiters.push(waiter);
        return;
      }
      batch.set(key, { key, keyBytes: Buffer.from(key), waiters: [waiter], answered: false });
      if (batch.size >= this.#maxBatch) {
        this.#send(index, batch);
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        // nextTick runs once the microtask queue is drained, so it gathers every read that
        // callers issue from promise continuations in this tick (a microtask would not).
        process.nextTick(this.#flush);
      }
    });
  }

  /** Fails every read not yet sent (the store is closing). */
  close(error: unknown): void {
    for (const index of [...this.#pending.keys()]) this.#fail(index, error);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    for (const [index, batch] of this.#pending) {
      if ((this.#inFlight[index] ?? 0) === 0) this.#send(index, batch);
      else this.#held[index] ??= this.#wire.hold(index, (error) => this.#fail(index, error));
    }
  };

  /**
   * A batch's answer is in: reads held for its server leave at the end of this tick, with
   * those its callers issue now. Node runs the ticks queued by an I/O callback before its
   * microtasks, so the flush is queued from a microtask: it then runs after every callback.
   */
  #answered(index: number): void {
    this.#inFlight[index]!--;
    if (this.#pending.has(index) && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushAfterMicrotasks);
    }
  }

  readonly #flushAfterMicrotasks = (): void => {
    process.nextTick(this.#flush);
  };

  #fail(index: number, error: unknown): void {
    const batch = this.#pending.get(index);
    this.#pending.delete(index);
    this.#held[index] = undefined;
    if (batch !== undefined) for (const wanted of batch.values()) fail(wanted, error);
  }

  #send(index: number, batch: Map<string, Wanted>): void {
    this.#pending.delete(index);
    const deadline = this.#held[index];
    this.#held[index] = undefined;
    this.#inFlight[index] = (this.#inFlight[index] ?? 0) + 1;
    if (batch.size === 1) {
      for (const wanted of batch.values()) this.#sendOne(index, wanted, deadline);
      return;
    }
    const list = [...batch.values()];
    // memcached answers in request order, and a GETKQ only on a hit: the answer for a key is
    // found by scanning forward from the last one answered.
    let next = 0;
    this.#wire.batch<Wanted, undefined>(
      index,
      list,
      GETKQ,
      (response) => {
        const { opcode, status } = response.header;
        if (opcode === Opcode.noop) return { value: undefined };
        if (status !== Status.ok) return { error: statusError('getMany', response, undefined) };
        const key = response.key;
        for (let i = next; i < list.length; i++) {
          const wanted = list[i]!;
          if (wanted.keyBytes.equals(key)) {
            next = i + 1;
            answer(wanted, toHit(response));
            break;
          }
        }
        return undefined;
      },
      (outcome) => {
        this.#answered(index);
        if ('error' in outcome) {
          for (const wanted of list) if (!wanted.answered) fail(wanted, outcome.error);
        } else {
          for (const wanted of list) if (!wanted.answered) answer(wanted, undefined);
        }
      },
      deadline,
    );
  }

  #sendOne(index: number, wanted: Wanted, deadline: Deadline | undefined): void {
    this.#wire.send<Hit | undefined>(
      'get',
      wanted.key,
      encodeRequest(Opcode.get, wanted.keyBytes, 0, undefined, undefined, 0),
      (status, response) => {
        if (status === Status.ok) return { value: toHit(response) };
        if (status === Status.notFound) return { value: undefined };
        return undefined;
      },
      index,
      (outcome) => {
        this.#answered(index);
        if ('error' in outcome) fail(wanted, outcome.error);
        else answer(wanted, outcome.value);
      },
      deadline,
    );
  }
}

function answer(wanted: Wanted, hit: Hit | undefined): void {
  wanted.answered = true;
  for (const waiter of wanted.waiters) {
    let value: unknown;
    try {
      value = waiter.pick(hit);
    } catch (error) {
      waiter.reject(error);
      continue;
    }
    waiter.resolve(value as never);
  }
}

function fail(wanted: Wanted, error: unknown): void {
  wanted.answered = true;
  for (const waiter of wanted.waiters) waiter.reject(error);
}

/** A read's answer as a hit. */
export function toHit(response: Response): Hit {
  const extras = response.extras;
  return {
    value: response.val,
    flags: extras.length >= 4 ? extras.readUInt32BE(0) : FLAGS_UNKNOWN,
    // memjs hands out slices of a buffer it never writes to again, so no copy is needed.
    cas: response.header.cas,
  };
}
