/** One exchange's deadline: `expire` runs once it passes, unless `done` was set first. */
export interface Deadline {
  readonly due: number;
  /** Replaced when a deadline started for requests held back is handed to their exchange. */
  expire: () => void;
  done: boolean;
}

/** Settled deadlines at the front of the list are dropped in one splice once there are this many. */
const COMPACT_AT = 1024;

/**
 * The deadlines of a connection's exchanges. Every exchange gets the same timeout, so they
 * fall due in the order they start: a list and one timer replace a timer per exchange (a
 * `setTimeout` and `clearTimeout` per request cost as much as the rest of a lone get's store
 * code). The timer is armed for the oldest open deadline and, when it fires, re-armed for the
 * next one; with nothing open it is not re-armed. After `close` it no longer keeps the process
 * alive, but still fails what stays open (on a client the store does not own) in time.
 */
export class DeadlineList {
  readonly #timeoutMs: number;
  #list: Deadline[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Starts a deadline `timeoutMs` from now. */
  add(expire: () => void): Deadline {
    const deadline: Deadline = { due: performance.now() + this.#timeoutMs, expire, done: false };
    this.#list.push(deadline);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
    return deadline;
  }

  /** Marks a deadline met; settled ones at the front are dropped. */
  settle(deadline: Deadline): void {
    deadline.done = true;
    const list = this.#list;
    if (list[this.#head] !== deadline) return;
    let head = this.#head + 1;
    while (head < list.length && list[head]!.done) head++;
    if (head === list.length) {
      list.length = 0;
      head = 0;
    } else if (head >= COMPACT_AT) {
      list.splice(0, head);
      head = 0;
    }
    this.#head = head;
  }

  /** From now on the timer does not keep the process alive. */
  close(): void {
    this.#closed = true;
    this.#timer?.unref();
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(delayMs)));
    if (this.#closed) this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const list = this.#list;
    while (this.#head < list.length) {
      const deadline = list[this.#head]!;
      if (!deadline.done) {
        // Timers fire on whole milliseconds of a clock read earlier than performance.now(): a
        // deadline less than 1 ms ahead is due now. Re-arming for it would let memjs's own
        // socket timeout (set to the same time) fire first and fail the call as a lost
        // connection instead of a timeout.
        if (deadline.due > now + 1) break;
        deadline.done = true;
        deadline.expire();
      }
      this.#head++;
    }
    if (this.#head >= list.length) {
      list.length = 0;
      this.#head = 0;
      return;
    }
    this.#arm(list[this.#head]!.due - now);
  };
}
