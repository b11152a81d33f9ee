/** A pino-compatible logger shape: `logger.warn({ err, store }, 'message')`. */
export interface CacheLogger {
  warn(object: Record<string, unknown>, message: string): void;
  error(object: Record<string, unknown>, message: string): void;
}

/** The default logger: one console line per call; the cache rate-limits what it sends here. */
export const consoleLogger: CacheLogger = {
  warn: (object, message) => console.warn(`[larder] ${message}`, describe(object)),
  error: (object, message) => console.error(`[larder] ${message}`, describe(object)),
};

function describe(object: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(object)) {
    if (value === undefined) continue;
    const text = value instanceof Error ? `${value.name}: ${value.message}` : String(value);
    parts.push(`${name}=${text}`);
  }
  return parts.join(' ');
}

/**
 * Lets one message per topic through every `intervalMs`, and says how many were held back
 * when the next one passes, so an outage at 1 000 ops/s costs a log line per interval.
 */
export class RateLimitedLog {
  readonly #logger: CacheLogger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #topics = new Map<string, { last: number; suppressed: number }>();

  constructor(logger: CacheLogger, intervalMs: number, now: () => number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  warn(topic: string, object: Record<string, unknown>, message: string): void {
    const now = this.#now();
    const state = this.#topics.get(topic);
    if (state !== undefined && now - state.last < this.#intervalMs) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.#topics.set(topic, { last: now, suppressed: 0 });
    this.#logger.warn(suppressed > 0 ? { ...object, suppressed } : object, message);
  }
}
