import type { BusMessage } from './bus.js';

/**
 * One `getOrSet` slot's watch over its key while a factory runs: `superseded` turns true when
 * the key is written, deleted, cleared or its tags invalidated after the factory started, so
 * the factory's (older) value is returned to its callers but not stored over the newer state.
 */
export interface WriteGuard {
  readonly slot: string;
  /** The stored key, when it could be built without I/O: how a bus message names it. */
  readonly storedKey: string | undefined;
  superseded: boolean;
  /** Resolves the next time the key changes in another process (heard on the bus). */
  changed(): Promise<void>;
  /** Marks the start of a factory run: only changes from now on supersede its value. */
  factoryStarted(): void;
  /** Keeps the guard open until the returned function runs (a flight, or a factory still running after its callers were answered). */
  hold(): () => void;
}

/**
 * The open guards of a cache and its namespaces. Marking costs nothing while no `getOrSet`
 * is running a factory (the common case on the write path).
 */
export class WriteGuards {
  readonly #bySlot = new Map<string, Set<Guard>>();

  get size(): number {
    return this.#bySlot.size;
  }

  /** Opens a guard for a `getOrSet` call; it closes when every `hold()` has been released. */
  open(slot: string, storedKey: string | undefined): WriteGuard {
    const guard = new Guard(slot, storedKey, () => this.#close(guard));
    let set = this.#bySlot.get(slot);
    if (set === undefined) {
      set = new Set();
      this.#bySlot.set(slot, set);
    }
    set.add(guard);
    return guard;
  }

  /** A write or delete of `slot` in this process. */
  supersede(slot: string): void {
    const set = this.#bySlot.get(slot);
    if (set !== undefined) for (const guard of set) guard.superseded = true;
  }

  /** A clear or tag invalidation: every running factory may have read what it invalidated. */
  supersedeAll(): void {
    for (const set of this.#bySlot.values()) for (const guard of set) guard.superseded = true;
  }

  /** Another process wrote, deleted or cleared (a message on the cache bus). */
  heard(message: BusMessage): void {
    if (this.#bySlot.size === 0) return;
    const keys = message.keys === undefined ? undefined : new Set(message.keys);
    for (const set of this.#bySlot.values()) {
      for (const guard of set) {
        const hit =
          (keys !== undefined && guard.storedKey !== undefined && keys.has(guard.storedKey)) ||
          (message.prefix !== undefined &&
            (guard.storedKey === undefined || guard.storedKey.startsWith(message.prefix)));
        if (hit) guard.heard();
      }
    }
  }

  #close(guard: Guard): void {
    const set = this.#bySlot.get(guard.slot);
    if (set === undefined) return;
    set.delete(guard);
    if (set.size === 0) this.#bySlot.delete(guard.slot);
  }
}

class Guard implements WriteGuard {
  superseded = false;
  #holders = 0;
  #waiters: (() => void)[] = [];

  constructor(
    readonly slot: string,
    readonly storedKey: string | undefined,
    readonly close: () => void,
  ) {}

  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  factoryStarted(): void {
    this.superseded = false;
  }

  heard(): void {
    this.superseded = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  hold(): () => void {
    this.#holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holders > 0) return;
      // Nobody waits on a closed guard: wake them so no promise is left pending.
      for (const wake of this.#waiters) wake();
      this.#waiters = [];
      this.close();
    };
  }
}
