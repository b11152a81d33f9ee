import {
  type StoreError,
  StoreFullError,
  StorePermissionError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
} from '@larder/core';
import type { StoreInfo } from '@larder/core/store-kit';
import Database from 'better-sqlite3';
import type { SqlExecutor, SqlRow, SqlStatement } from './dialect.js';
import type { TableName } from './sql.js';

/** How the executor opens and waits on the database. */
export interface SqliteConnection {
  /** An open handle the caller owns, or undefined to open `path`. */
  given: Database.Database | undefined;
  path: string;
  /** SQLite's own (blocking) wait for a lock, per attempt, in ms; undefined leaves a given handle's setting alone. */
  busyTimeout: number | undefined;
  /** Total time a call may keep retrying a locked database, in ms. */
  timeout: number;
}

/** The blocking wait per attempt when none is configured: short, the rest is waited asynchronously. */
export const DEFAULT_BUSY_TIMEOUT = 20;
/** Longest pause between two attempts on a locked database. */
const MAX_BACKOFF_MS = 50;

/** A prepared statement, with the order in which the shared SQL's `$n` values bind to its `?`s. */
interface Prepared {
  statement: Database.Statement;
  /** `values[order[i]]` binds to the i-th `?`; undefined when that is `values[i]` (bound as given). */
  order: number[] | undefined;
  /** Whether it only reads; writes go through the write queue. */
  readonly: boolean;
}

/** A write waiting for the end of the tick, with its caller's promise. */
interface QueuedWrite {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** What one write of a batch did: its own result or its own error. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs statements on a better-sqlite3 handle, opened on first use. better-sqlite3 is
 * synchronous; a call that finds the database locked by another connection waits at most
 * `busyTimeout` ms blocking, then retries asynchronously with jittered backoff until
 * `timeout`, so many writers on one file all land without stalling the event loop longer.
 *
 * Writes issued in the same tick run at the end of it in one transaction: one commit (one
 * write-ahead-log append per page) for the batch instead of one per write. Each write keeps
 * its own result and its own error; a read first runs the writes queued before it, so a
 * caller always reads what it wrote.
 */
export class SqliteExecutor implements SqlExecutor {
  readonly coalesceReads = false;
  /** Writes are batched here, per tick, into one transaction whatever the statement. */
  readonly coalesceWrites = false;
  readonly #c: SqliteConnection;
  readonly #statements = new Map<string, Prepared>();
  /** The same statements returning their first column only (`.pluck()`), for `value`. */
  readonly #plucked = new Map<string, Prepared>();
  /** The same statements returning rows as arrays (`.raw()`), for `arrays`. */
  readonly #arrayRows = new Map<string, Prepared>();
  #db: Database.Database | undefined;
  #batch: ((writes: QueuedWrite[]) => Outcome[]) | undefined;
  #queue: QueuedWrite[] = [];
  #flushScheduled = false;
  /** A batch waiting out another connection's lock; later batches run after it, in order. */
  #blocked: Promise<void> | undefined;
  #closed = false;

  constructor(connection: SqliteConnection) {
    this.#c = connection;
  }

  rowFault(): boolean {
    return false;
  }

  all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]> {
    let prepared: Prepared;
    try {
      prepared = this.#prepare(statement);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
    // `.all()` even for one row: `.get()` leaves a RETURNING statement unfinished, which keeps
    // checkpoints from resetting the write-ahead log.
    const work = () => prepared.statement.all(boundValues(values, prepared)) as SqlRow[];
    return prepared.readonly ? this.#read(work) : this.#write(work);
  }

  first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined> {
    let prepared: Prepared;
    try {
      prepared = this.#prepare(statement);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
    if (!prepared.readonly) return this.all(statement, values).then((rows) => rows[0]);
    return this.#read(() => prepared.statement.get(boundValues(values, prepared)) as SqlRow | undefined);
  }

  value(statement: SqlStatement, values: readonly unknown[]): Promise<unknown> {
    let prepared: Prepared;
    try {
      prepared = this.#prepare(statement, 'pluck');
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
    const bound = boundValues(values, prepared);
    if (prepared.readonly) return this.#read(() => prepared.statement.get(bound));
    // `.all()` for a RETURNING statement, as in `all`.
    return this.#write(() => (prepared.statement.all(bound) as unknown[])[0]);
  }

  arrays(statement: SqlStatement, values: readonly unknown[]): Promise<unknown[][]> {
    let prepared: Prepared;
    try {
      prepared = this.#prepare(statement, 'raw');
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
    const work = () => prepared.statement.all(boundValues(values, prepared)) as unknown[][];
    return prepared.readonly ? this.#read(work) : this.#write(work);
  }

  run(statement: SqlStatement, values: readonly unknown[]): Promise<number> {
    let prepared: Prepared;
    try {
      prepared = this.#prepare(statement);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
    const work = () => prepared.statement.run(boundValues(values, prepared)).changes;
    return prepared.readonly ? this.#read(work) : this.#write(work);
  }

  runEach(statement: SqlStatement, rows: readonly (readonly unknown[])[]): Promise<void> {
    let prepared: Prepared;
    try {
      prepared = this.#prepare(statement);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
    const db = this.open();
    // Inside a batch's transaction this nests as a savepoint: the rows land together or not at all.
    const each = db.transaction(() => {
      for (const values of rows) prepared.statement.run(boundValues(values, prepared));
    });
    return this.#write(() => {
      each();
    });
  }

  exec(script: string): Promise<void> {
    return this.#read(() => {
      this.open().exec(script);
    });
  }

  info(table: TableName): Promise<StoreInfo> {
    return this.#read(() => {
      const db = this.open();
      let bytes: number;
      try {
        const row = db
          .prepare('SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN (?, ?)')
          .get(table.raw, table.index.slice(1, -1)) as SqlRow;
        bytes = Number(row.bytes);
      } catch {
        // Built without the dbstat table: the whole database file is the best figure.
        bytes =
          Number(db.pragma('page_count', { simple: true })) *
          Number(db.pragma('page_size', { simple: true }));
      }
      const version = (db.prepare('SELECT sqlite_version() AS v').get() as SqlRow).v;
      return {
        bytesUsed: bytes,
        serverVersion: `sqlite ${String(version)}`,
        path: db.name,
        journalMode: db.pragma('journal_mode', { simple: true }),
      };
    });
  }

  describe(): string {
    return `sqlite:${this.#c.given?.name ?? this.#c.path}`;
  }

  close(): Promise<void> {
    // Writes already accepted land before the handle goes.
    if (this.#blocked === undefined) this.#flush();
    this.#closed = true;
    this.#statements.clear();
    this.#plucked.clear();
    this.#arrayRows.clear();
    this.#batch = undefined;
    if (this.#db !== undefined && this.#db !== this.#c.given) this.#db.close();
    this.#db = undefined;
    return Promise.resolve();
  }

  /** The open handle, opening (and configuring) the file on first use. */
  open(): Database.Database {
    if (this.#db !== undefined) return this.#db;
    if (this.#closed) throw new StoreUnavailableError('the sqlite store is closed', { store: 'sqlite' });
    const { given, busyTimeout } = this.#c;
    if (given !== undefined) {
      if (busyTimeout !== undefined) given.pragma(`busy_timeout = ${busyTimeout}`);
      this.#db = given;
      return given;
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(this.#c.path, { timeout: busyTimeout ?? DEFAULT_BUSY_TIMEOUT });
      // The first statements read the header: a file that is not a database fails here (SQLITE_NOTADB).
      if (!db.memory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    } catch (error) {
      db?.close();
      throw this.#error(error);
    }
    this.#db = db;
    return db;
  }

  /** Runs a read (or a schema script) now, after the writes queued before it. */
  #read<T>(work: () => T): Promise<T> {
    if (this.#queue.length > 0 && this.#blocked === undefined) this.#flush();
    return this.#attempt(work);
  }

  /** Queues a write for the end of this tick. */
  #write<T>(work: () => T): Promise<T> {
    if (!this.#flushScheduled && this.#blocked === undefined) {
      // The first write of a tick runs now, on its own (a lone write costs what the statement
      // does); the writes that follow it in this tick queue for one transaction at its end.
      this.#flushScheduled = true;
      process.nextTick(this.#onTick);
      try {
        return Promise.resolve(work());
      } catch (error) {
        if (!isBusy(error)) return Promise.reject(this.#error(error));
        // Later writes wait behind this one, so they land in the order they were issued.
        const retry = this.#retry(work, error, performance.now() - this.#blockingMs());
        this.#blocked = retry.then(
          () => undefined,
          () => undefined,
        );
        void this.#blocked.then(() => {
          this.#blocked = undefined;
          this.#flush();
        });
        return retry;
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run: work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // A tick callback runs once the promise jobs in flight have settled, so every caller
        // whose turn comes in this tick has queued its write by then.
        process.nextTick(this.#onTick);
      }
    });
  }

  readonly #onTick = (): void => {
    this.#flushScheduled = false;
    if (this.#blocked === undefined) this.#flush();
  };

  /** Runs the queued writes as one batch; a locked database retries the batch asynchronously. */
  #flush(): void {
    const writes = this.#queue;
    if (writes.length === 0) return;
    this.#queue = [];
    const work = () => this.#runBatch(writes);
    let outcomes: Outcome[];
    try {
      outcomes = work();
    } catch (error) {
      if (!isBusy(error)) {
        const typed = this.#error(error);
        for (const write of writes) write.reject(typed);
        return;
      }
      this.#blocked = this.#retry(work, error, performance.now() - this.#blockingMs()).then(
        (later) => this.#settle(writes, later),
        (typed: unknown) => {
          for (const write of writes) write.reject(typed);
        },
      );
      void this.#blocked.finally(() => {
        this.#blocked = undefined;
        this.#flush();
      });
      return;
    }
    this.#settle(writes, outcomes);
  }

  #settle(writes: QueuedWrite[], outcomes: Outcome[]): void {
    for (let i = 0; i < writes.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) writes[i]!.resolve(outcome.value);
      else writes[i]!.reject(this.#error(outcome.error));
    }
  }

  /**
   * One write runs on its own (its own implicit transaction); several run in one immediate
   * transaction. A statement error rolls back that statement only and goes to its caller; an
   * error that ends the transaction (locked, full, I/O) is thrown for the whole batch.
   */
  #runBatch(writes: QueuedWrite[]): Outcome[] {
    if (writes.length === 1) return [{ ok: true, value: writes[0]!.run() }];
    const db = this.open();
    this.#batch ??= db
      .transaction((batch: QueuedWrite[]): Outcome[] => {
        const outcomes: Outcome[] = [];
        for (const write of batch) {
          try {
            outcomes.push({ ok: true, value: write.run() });
          } catch (error) {
            if (!db.inTransaction || endsTransaction(error)) throw error;
            outcomes.push({ ok: false, error });
          }
        }
        return outcomes;
      })
      .immediate.bind(undefined);
    return this.#batch(writes);
  }

  /**
   * Runs `work` now; if the database is locked, again after a pause, while a whole attempt
   * (SQLite's blocking wait included) still fits in `timeout`.
   */
  #attempt<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      if (!isBusy(error)) return Promise.reject(this.#error(error));
      // Counted from when the first attempt began its blocking wait (at most busyTimeout ago),
      // so the clock is read only when the database was locked.
      return this.#retry(work, error, performance.now() - this.#blockingMs());
    }
  }

  /** SQLite's own blocking wait per attempt. */
  #blockingMs(): number {
    return this.#c.busyTimeout ?? DEFAULT_BUSY_TIMEOUT;
  }

  async #retry<T>(work: () => T, firstError: unknown, started: number): Promise<T> {
    const blocking = this.#blockingMs();
    let lastError = firstError;
    let pause = 1;
    for (;;) {
      const wait = pause * (0.5 + Math.random());
      const left = this.#c.timeout - (performance.now() - started);
      if (left < wait + blocking || this.#closed) throw this.#error(lastError);
      await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        return work();
      } catch (error) {
        if (!isBusy(error)) throw this.#error(error);
        lastError = error;
      }
      pause = Math.min(pause * 2, MAX_BACKOFF_MS);
    }
  }

  #prepare(statement: SqlStatement, shape?: 'pluck' | 'raw'): Prepared {
    const cache = shape === 'pluck' ? this.#plucked : shape === 'raw' ? this.#arrayRows : this.#statements;
    let prepared = cache.get(statement.name);
    if (prepared === undefined) {
      // `$n` are named parameters to SQLite, and binding by name costs more than by position:
      // each `$n` becomes a `?`, bound from values[n - 1].
      const order: number[] = [];
      const text = statement.text.replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return '?';
      });
      const compiled = this.open().prepare(text);
      if (shape === 'pluck') compiled.pluck();
      else if (shape === 'raw') compiled.raw();
      const inOrder = order.every((n, i) => n === i);
      prepared = { statement: compiled, order: inOrder ? undefined : order, readonly: compiled.readonly };
      cache.set(statement.name, prepared);
    }
    return prepared;
  }

  #error(error: unknown): StoreError {
    if (error instanceof StoreUnavailableError) return error;
    return sqliteError(error, this.#c.given?.name ?? this.#c.path, this.#c.timeout);
  }
}

function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** The values for a statement's `?`s, in order. */
function boundValues(values: readonly unknown[], prepared: Prepared): readonly unknown[] {
  return prepared.order === undefined ? values : bind(values, prepared.order);
}

function bind(values: readonly unknown[], order: readonly number[]): unknown[] {
  const bound = new Array<unknown>(order.length);
  for (let i = 0; i < order.length; i++) bound[i] = values[order[i]!];
  return bound;
}

/** Errors after which SQLite may have rolled back the whole transaction; the batch fails as one. */
function endsTransaction(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|NOMEM|INTERRUPT|CORRUPT|NOTADB|CANTOPEN)/.test(code);
}

/** Maps a better-sqlite3 error (its `code` is the extended result code name) to a typed error. */
function sqliteError(error: unknown, path: string, timeout: number): StoreError {
  const code = String((error as { code?: unknown })?.code ?? '');
  const detail = error instanceof Error ? error.message : String(error);
  const context = { store: 'sqlite', cause: error };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreTimeoutError(
      `sqlite database ${path} stayed locked by another connection for the store's timeout (${timeout} ms) (${code}); raise timeout or shorten the other connection's transactions`,
      context,
    );
  }
  if (code.startsWith('SQLITE_FULL')) {
    return new StoreFullError(
      `sqlite database ${path} is full: the disk or max_page_count is exhausted (${code})`,
      context,
    );
  }
  if (code.startsWith('SQLITE_TOOBIG')) {
    return new ValueTooLargeError(`value exceeds SQLite's size limit (${code})`, context);
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_PERM') ||
    code.startsWith('SQLITE_AUTH')
  ) {
    return new StorePermissionError(
      `sqlite database ${path} cannot be written (${code}): ${detail}; check file permissions`,
      context,
    );
  }
  if (code.startsWith('SQLITE_NOTADB')) {
    return new StoreUnavailableError(
      `${path} is not a SQLite database (${code}); point path at a new file or remove this one. The cache serves misses until then`,
      context,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StoreUnavailableError(
      `cannot open sqlite database ${path} (${code}); check that its directory exists and is writable`,
      context,
    );
  }
  return new StoreUnavailableError(
    `sqlite call failed${code === '' ? '' : ` (${code})`}: ${detail}`,
    context,
  );
}
