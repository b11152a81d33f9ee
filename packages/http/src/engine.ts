import { AsyncLocalStorage } from 'node:async_hooks';
import { parseCacheControl, parseVary } from './directives.js';
import { buildEntry, isEntry, notModified, type PageEntry } from './entry.js';
import { type PageCacheOptions, type ResolvedOptions, resolveOptions } from './options.js';
import {
  canonicalTarget,
  entryKey,
  indexKey,
  newGeneration,
  type PageIndex,
  type RequestView,
} from './page-key.js';

/** What the cache did for one request. */
export type Verdict = 'HIT' | 'MISS' | 'BYPASS';

/** A response to send as it is (a hit or a 304). */
export interface ServedPage {
  status: number;
  headers: Record<string, string | string[]>;
  /** `undefined` for a 304 or a HEAD request. */
  body: Buffer | undefined;
}

/** The outcome of a lookup: serve a stored page, or run the handler under a plan. */
export type Lookup = { kind: 'serve'; page: ServedPage } | { kind: 'run'; plan: RunPlan };

/** Per-route settings an adapter may pass (Fastify's route option). */
export interface RouteSettings {
  shared?: boolean;
  ttlMs?: number;
}

const CREDENTIALS = ['authorization', 'cookie'] as const;
/** Headers a 304 carries (RFC 9110 §15.4.5). */
const NOT_MODIFIED_HEADERS = [
  'cache-control',
  'content-location',
  'etag',
  'expires',
  'vary',
  'last-modified',
];

interface OpCounter {
  hits: number;
  misses: number;
}

/**
 * The page-cache engine behind every adapter: looks a request up, decides whether its response
 * may be stored, stores it, and runs one handler per cold page at a time in this process.
 * Never throws into the request: a store failure is a miss and the page is served uncached.
 */
export class PageCacheEngine {
  readonly options: ResolvedOptions;
  readonly #flights = new Map<string, Promise<void>>();
  readonly #ops: AsyncLocalStorage<OpCounter> | undefined;

  constructor(owner: string, options: PageCacheOptions) {
    this.options = resolveOptions(owner, options);
    if (this.options.countCacheOps) {
      const ops = new AsyncLocalStorage<OpCounter>();
      this.#ops = ops;
      this.options.cache.on('hit', () => {
        const counter = ops.getStore();
        if (counter !== undefined) counter.hits++;
      });
      this.options.cache.on('miss', () => {
        const counter = ops.getStore();
        if (counter !== undefined) counter.misses++;
      });
    }
  }

  /** Runs the handler so that the cache calls it makes are counted for `Server-Timing` (when opted in). */
  runHandler(plan: RunPlan, handler: () => void): void {
    if (this.#ops === undefined) handler();
    else this.#ops.run(plan.ops, handler);
  }

  /** Looks the request up; never rejects. */
  async lookup(request: RequestView, route: RouteSettings = {}, waited = false): Promise<Lookup> {
    const started = performance.now();
    const o = this.options;
    const shared = route.shared ?? o.shared;
    const method = request.method.toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      return { kind: 'run', plan: new RunPlan(this, request, undefined, 'BYPASS', started, shared, route) };
    }
    const target = canonicalTarget(request.url);
    const credentials = CREDENTIALS.filter((name) => request.headers[name] !== undefined);
    const index = await this.#read<PageIndex>(indexKey(o.cache, target), isIndex);
    let slot = `cold\u0000${target}`;
    if (index !== undefined) {
      const key = entryKey(o.cache, request, target, index);
      slot = key;
      const entry = await this.#read<PageEntry>(key, isEntry);
      if (entry !== undefined && servable(entry, credentials)) {
        return { kind: 'serve', page: this.#serve(entry, request, method, started) };
      }
    }
    const context: StoreContext = { target, index, credentials };
    if (method === 'HEAD') {
      return { kind: 'run', plan: new RunPlan(this, request, undefined, 'BYPASS', started, shared, route) };
    }
    const flight = this.#flights.get(slot);
    if (flight !== undefined && !waited) {
      await waitAtMost(flight, o.waitTimeoutMs);
      return this.lookup(request, route, true);
    }
    const plan = new RunPlan(this, request, context, 'MISS', started, shared, route);
    if (flight === undefined) {
      let done!: () => void;
      const promise = new Promise<void>((resolve) => {
        done = resolve;
      });
      this.#flights.set(slot, promise);
      plan.onRelease(() => {
        if (this.#flights.get(slot) === promise) this.#flights.delete(slot);
        done();
      });
    }
    return { kind: 'run', plan };
  }

  /** Stores a captured response when every rule allows it; never rejects. */
  async store(
    request: RequestView,
    context: StoreContext,
    decision: StoreDecision,
    headers: Record<string, string | string[]>,
    status: number,
    body: Buffer,
  ): Promise<void> {
    const o = this.options;
    try {
      const vary = [...new Set([...decision.vary, ...o.vary])].sort();
      const index: PageIndex = { vary, gen: context.index?.gen ?? newGeneration() };
      const entry = buildEntry(
        status,
        headers,
        body,
        vary,
        decision.sharedAcross,
        Date.now(),
        o.header === false ? false : o.header.toLowerCase(),
      );
      const key = entryKey(o.cache, request, context.target, index);
      await o.cache.set(key, entry, { ttl: decision.ttlMs });
      if (context.index === undefined || context.index.vary.join(',') !== vary.join(',')) {
        await o.cache.set(indexKey(o.cache, context.target), index, {
          ttl: Math.max(o.ttlMs, decision.ttlMs),
        });
      }
    } catch {
      // A store failure (under ignoreErrors: false) leaves the page uncached; the user already has it.
    }
  }

  async #read<T>(key: string, check: (value: unknown) => value is T): Promise<T | undefined> {
    try {
      const value = await this.options.cache.get(key);
      return check(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  #serve(entry: PageEntry, request: RequestView, method: string, started: number): ServedPage {
    const o = this.options;
    const age = Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000));
    const extra: Record<string, string> = { age: String(age) };
    if (o.header !== false) extra[o.header] = 'HIT';
    const timing = serverTiming(o, 'HIT', started, undefined);
    if (timing !== undefined) extra['server-timing'] = timing;
    if (notModified(entry, request.headers['if-none-match'], request.headers['if-modified-since'])) {
      const headers: Record<string, string | string[]> = { ...extra };
      for (const name of NOT_MODIFIED_HEADERS) {
        const value = entry.headers[name];
        if (value !== undefined) headers[name] = value;
      }
      return { status: 304, headers, body: undefined };
    }
    const body = Buffer.from(entry.body, 'base64');
    const headers = { ...entry.headers, ...extra, 'content-length': String(body.length) };
    return { status: entry.status, headers, body: method === 'HEAD' ? undefined : body };
  }
}

/** What the engine knew when the handler started. */
export interface StoreContext {
  target: string;
  index: PageIndex | undefined;
  credentials: readonly string[];
}

/** Whether and how a response may be stored, decided when its headers are written. */
export interface StoreDecision {
  ttlMs: number;
  vary: string[];
  sharedAcross: PageEntry['sharedAcross'];
}

/**
 * One handler run: decides, when the headers are written, whether the response may be stored
 * (and so what `X-Cache` says), collects the body, and stores it at the end.
 */
export class RunPlan {
  readonly ops: OpCounter = { hits: 0, misses: 0 };
  #verdict: Verdict;
  #decision: StoreDecision | undefined;
  readonly #releases: (() => void)[] = [];
  #released = false;

  constructor(
    readonly engine: PageCacheEngine,
    readonly request: RequestView,
    readonly context: StoreContext | undefined,
    verdict: Verdict,
    readonly started: number,
    readonly shared: boolean,
    readonly route: RouteSettings,
  ) {
    this.#verdict = verdict;
  }

  get verdict(): Verdict {
    return this.#verdict;
  }

  /** Whether the body is worth collecting (the response may still be stored). */
  get collecting(): boolean {
    return this.#verdict === 'MISS';
  }

  /** Called when the status and headers are final; returns the headers to add. */
  onHeaders(status: number, headers: Record<string, string | string[]>): Record<string, string> {
    if (this.#verdict === 'MISS') {
      this.#decision = this.context === undefined ? undefined : decide(this, status, headers);
      if (this.#decision === undefined) this.#verdict = 'BYPASS';
    }
    const o = this.engine.options;
    const extra: Record<string, string> = {};
    if (o.header !== false) extra[o.header] = this.#verdict;
    const timing = serverTiming(o, this.#verdict, this.started, o.countCacheOps ? this.ops : undefined);
    if (timing !== undefined) extra['Server-Timing'] = timing;
    return extra;
  }

  /** Called when the response ended; `body` is undefined when it was over the size limit. */
  async finish(
    status: number,
    headers: Record<string, string | string[]>,
    body: Buffer | undefined,
  ): Promise<void> {
    try {
      const decision = this.#decision;
      this.#decision = undefined;
      if (decision === undefined || body === undefined || this.context === undefined) return;
      if (body.length > this.engine.options.maxBodyBytes) return;
      await this.engine.store(this.request, this.context, decision, headers, status, body);
    } finally {
      this.release();
    }
  }

  onRelease(release: () => void): void {
    this.#releases.push(release);
  }

  /** Ends this run's hold on its page: waiters look the page up again. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const release of this.#releases) release();
  }
}

/** The storage rules, applied to the final status and headers. `undefined`: do not store. */
function decide(
  plan: RunPlan,
  status: number,
  headers: Record<string, string | string[]>,
): StoreDecision | undefined {
  const o = plan.engine.options;
  if (!o.statuses.has(status)) return undefined;
  if (headers['set-cookie'] !== undefined) return undefined;
  const control = parseCacheControl(headers['cache-control']);
  if (control.has('private') || control.has('no-store') || control.has('no-cache')) return undefined;
  const vary = parseVary(headers.vary);
  if (vary.includes('*')) return undefined;
  let ttlMs = plan.route.ttlMs ?? o.ttlMs;
  for (const directive of ['s-maxage', 'max-age']) {
    const value = control.get(directive);
    if (typeof value === 'string') {
      const seconds = Number(value);
      if (!(Number.isFinite(seconds) && seconds >= 0)) return undefined;
      ttlMs = Math.min(ttlMs, seconds * 1000);
      break; // s-maxage overrides max-age for a shared cache
    }
  }
  if (ttlMs <= 0) return undefined;
  const sharedAcross: StoreDecision['sharedAcross'] = plan.shared
    ? 'all'
    : control.has('public') || control.has('s-maxage')
      ? 'authorization'
      : 'none';
  const keyed = [...vary, ...o.vary];
  const decision: StoreDecision = { ttlMs, vary, sharedAcross };
  for (const credential of plan.context?.credentials ?? []) {
    if (!mayShare(credential, keyed, sharedAcross)) return undefined;
  }
  return decision;
}

/** Whether a holder of `credential` may be served (or may store) a page with this vary list and sharing. */
function mayShare(
  credential: string,
  vary: readonly string[],
  sharedAcross: PageEntry['sharedAcross'],
): boolean {
  if (vary.includes(credential)) return true;
  if (sharedAcross === 'all') return true;
  return credential === 'authorization' && sharedAcross === 'authorization';
}

function servable(entry: PageEntry, credentials: readonly string[]): boolean {
  return credentials.every((credential) => mayShare(credential, entry.vary, entry.sharedAcross));
}

function serverTiming(
  o: ResolvedOptions,
  verdict: Verdict,
  started: number,
  ops: OpCounter | undefined,
): string | undefined {
  if (!o.serverTiming) return undefined;
  const dur = (performance.now() - started).toFixed(1);
  const cache = `cache;desc="${verdict}";dur=${dur}`;
  return ops === undefined ? cache : `${cache}, cache-ops;desc="hits=${ops.hits} misses=${ops.misses}"`;
}

function isIndex(value: unknown): value is PageIndex {
  const index = value as PageIndex;
  return (
    typeof index === 'object' &&
    index !== null &&
    typeof index.gen === 'string' &&
    Array.isArray(index.vary) &&
    index.vary.every((name) => typeof name === 'string')
  );
}

function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
