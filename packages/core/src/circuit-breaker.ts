/** Circuit breaker settings; `false` turns it off. */
export interface CircuitBreakerOptions {
  /** Consecutive store failures that open the circuit. @default 5 */
  failures?: number;
  /** How long the open circuit skips the store before one probe call, in ms. @default 1000 */
  cooldown?: number;
}

/**
 * Skips the store after `failures` consecutive failures, for `cooldown` ms, so an outage costs
 * a fast miss instead of a timeout per request. After the cooldown one probe call goes
 * through: success closes the circuit, failure opens it for another cooldown.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #consecutive = 0;
  #openUntil = 0;
  #probing = false;

  constructor(options: Required<CircuitBreakerOptions>, now: () => number) {
    this.#threshold = options.failures;
    this.#cooldownMs = options.cooldown;
    this.#now = now;
  }

  get isOpen(): boolean {
    return this.#openUntil !== 0;
  }

  /** Whether a call may go to the store now. Lets exactly one probe through after the cooldown. */
  allow(): boolean {
    if (this.#openUntil === 0) return true;
    if (this.#probing || this.#now() < this.#openUntil) return false;
    this.#probing = true;
    return true;
  }

  /** Returns true when this success closed an open circuit. */
  success(): boolean {
    this.#consecutive = 0;
    this.#probing = false;
    if (this.#openUntil === 0) return false;
    this.#openUntil = 0;
    return true;
  }

  /** Returns true when this failure opened the circuit. */
  failure(): boolean {
    this.#consecutive++;
    const wasProbe = this.#probing;
    this.#probing = false;
    if (wasProbe || (this.#openUntil === 0 && this.#consecutive >= this.#threshold)) {
      const opened = this.#openUntil === 0;
      this.#openUntil = this.#now() + this.#cooldownMs;
      return opened;
    }
    return false;
  }
}
