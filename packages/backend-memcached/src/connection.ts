/**
 * The wire exchange with memcached over memjs's connections. memjs 1.3 cannot set item flags,
 * has no multi-get and misreads 64-bit counters, so the store writes binary-protocol requests
 * itself and sends them through memjs internals. This is the ONLY file that touches them
 * (`Server#write/onResponse/onError/error`, `Server#_socket`, `Server#connected`,
 * `Server#responseCallbacks`, the `quiet` flag of a response callback, `Client#seq/incrSeq`,
 * and replacing entries of `Client#servers`): memjs is pinned
 * to `~1.3.2`, and test/memjs-internals.test.ts fails naming the internal when one changes.
 */
import type { Socket } from 'node:net';
import { CacheClosedError, StoreUnavailableError } from '@larder/core';
import { Client, type Response, Server } from 'memjs';
import { type Deadline, DeadlineList } from './deadlines.js';
import { connectionError, NAME, statusError, timeoutError } from './errors.js';
import {
  encodeBatch,
  encodeRequest,
  Opcode,
  type PipelineEntry,
  type PipelineRequest,
  Status,
} from './protocol.js';
import { HashRing } from './ring.js';

export type { PipelineEntry, PipelineRequest };

/** A memjs client, whatever serializer it was built with (the store sends raw bytes itself). */
export type MemjsClient = Client<never, unknown>;

/** memjs's Server with the internals this file touches. */
interface WireServer extends Server {
  _socket?: Socket;
  username: string | undefined;
  password: string | undefined;
}

/** What a response handler decides: settle with a value, fail, or wait for more responses. */
export type Outcome<T> = Settled<T> | undefined;
/** Reads the answers of one exchange. */
export type Handler<T> = (response: Response) => Outcome<T>;
/** How an exchange ended. */
export type Settled<T> = { value: T } | { error: unknown };

const SILENT = { log(): void {} };
const EMPTY = Buffer.alloc(0);

/** Whether a value looks like a memjs client. */
export function isClient(value: unknown): value is MemjsClient {
  const candidate = value as { servers?: unknown; server?: unknown; incrSeq?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    Array.isArray(candidate.servers) &&
    typeof candidate.server === 'function' &&
    typeof candidate.incrSeq === 'function'
  );
}

/** Builds a memjs client for these servers and credentials, with memjs's own retries and logging off. */
export function createClient(
  addresses: readonly { host: string; port: number }[],
  username: string | undefined,
  password: string | undefined,
  timeoutMs: number,
): MemjsClient {
  // memjs's own timeouts are a backstop at twice the store's deadline: the store's fires first
  // and fails the call as a typed timeout, where memjs's would fail it as a lost connection.
  const seconds = (2 * timeoutMs) / 1000;
  const servers = addresses.map(({ host, port }) => {
    const server = new Server(host, port, username, password, {
      timeout: seconds,
      conntimeout: seconds,
      keepAlive: true,
      keepAliveDelay: 30,
    }) as WireServer;
    // memjs falls back to MEMCACHE_USERNAME/PASSWORD from the environment; keep exactly what was configured.
    server.username = username;
    server.password = password;
    return server;
  });
  return new Client(servers, { retries: 0, failover: false, logger: SILENT }) as unknown as MemjsClient;
}

/**
 * Requests over a memjs client, each settled within `timeoutMs`. Keys are spread over the
 * servers by a consistent-hash ring (not memjs's hash modulo the server count). Past the
 * deadline, or when a connection fails or closes, that server's connection is dropped and
 * replaced, so the next call starts on a clean one. A server that is down stays on the ring:
 * its keys fail fast (refused) or at the deadline (hung) and are never remapped to another
 * server, so no other server answers for them and nothing stale is read when it returns.
 */
export class Connection {
  readonly #client: MemjsClient;
  readonly #timeoutMs: number;
  readonly #ring: HashRing | undefined;
  readonly #watched = new WeakSet<Socket>();
  readonly #corked = new Set<Socket>();
  readonly #deadlines: DeadlineList;
  #closed = false;

  constructor(client: MemjsClient, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#deadlines = new DeadlineList(timeoutMs);
    const servers = this.#servers();
    this.#ring = servers.length > 1 ? new HashRing(servers.map(endpoint)) : undefined;
  }

  /** How many servers the keys are spread over. */
  get serverCount(): number {
    return this.#servers().length;
  }

  /** The index (in the client's server list) of the server that holds `key`. */
  indexFor(key: string): number {
    return this.#ring === undefined ? 0 : this.#ring.serverFor(key);
  }

  /** `host:port` of every server, for messages. */
  get endpoints(): string[] {
    return this.#servers().map(endpoint);
  }

  /**
   * One request with one answer. `request` is built with opaque 0 (it is stamped here);
   * `accept` maps the statuses the operation expects, others become typed errors. `index`:
   * the key's server when the caller already knows it.
   */
  request<T>(
    operation: string,
    key: string,
    request: Buffer,
    accept: (status: number, response: Response) => { value: T } | undefined,
    index = this.indexFor(key),
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (outcome: Settled<T>) => {
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      };
      this.send(operation, key, request, accept, index, done, undefined, true);
    });
  }

  /**
   * `request` to server `index`, settled through `done` rather than a promise of its own;
   * `deadline`: one `hold` started for it. `cork`: hold the write for the rest of the tick (see
   * `#cork`); the batchers, which write once per server and tick anyway, leave it off.
   */
  send<T>(
    operation: string,
    key: string,
    request: Buffer,
    accept: (status: number, response: Response) => { value: T } | undefined,
    index: number,
    done: (outcome: Settled<T>) => void,
    deadline?: Deadline,
    cork = false,
  ): void {
    const server = this.#present(index, key, done, deadline);
    if (server === undefined) return;
    const opaque = this.#opaque();
    request.writeUInt32BE(opaque, 12);
    this.#start(
      key,
      server,
      opaque,
      request,
      false,
      (response) =>
        accept(response.header.status, response) ?? { error: statusError(operation, response, key) },
      done,
      cork,
      deadline,
    );
  }

  /**
   * The entries' quiet requests then a NOOP, in one write to server `index`; `handle` reads
   * the answers (the NOOP's ends the batch) and `done` gets the outcome.
   */
  batch<E extends PipelineEntry, T>(
    index: number,
    entries: readonly E[],
    request: PipelineRequest<E>,
    handle: Handler<T>,
    done: (outcome: Settled<T>) => void,
    deadline?: Deadline,
  ): void {
    const server = this.#present(index, undefined, done, deadline);
    if (server === undefined) return;
    const opaque = this.#opaque();
    const blob = encodeBatch(entries, request, () => opaque, opaque);
    this.#start(undefined, server, opaque, blob, true, handle, done, false, deadline);
  }

  /**
   * Starts the deadline of requests for server `index` that are held back before being sent
   * (so their time counts from when they were asked for); `onTimeout` gets the timeout error if
   * it passes before they are handed to `batch`, which then keeps it.
   */
  hold(index: number, onTimeout: (error: unknown) => void): Deadline {
    const server = this.#servers()[index];
    const name = server === undefined ? `server ${index}` : endpoint(server);
    return this.#deadlines.add(() =>
      onTimeout(timeoutError(name, this.#timeoutMs, undefined, this.#ring !== undefined)),
    );
  }

  /**
   * The entries grouped by server: per server, the entries' quiet requests followed by a NOOP
   * in one write. `handler(group)` reads that server's answers; the NOOP's answer ends the batch.
   * Resolves each server's result.
   */
  pipeline<E extends PipelineEntry, T>(
    entries: readonly E[],
    request: PipelineRequest<E>,
    handler: (group: E[]) => Handler<T>,
  ): Promise<T[]> {
    const groups = this.#byServer(entries);
    return Promise.all(
      groups.map(([server, group]) => {
        const opaque = this.#opaque();
        const blob = encodeBatch(group, request, () => opaque, opaque);
        return this.#exchange(undefined, server, opaque, blob, true, handler(group));
      }),
    );
  }

  /**
   * Quiet requests that each settle on their own, sent to server `index` in one write: every
   * entry gets an opaque of its own, then one NOOP. A quiet request answers only when it fails,
   * and memcached answers in order, so when the NOOP's answer arrives every entry without an
   * answer succeeded; an answer is mapped back to its entry by opaque. `done` gets, per entry,
   * `undefined` (done) or the error `fail` made of its answer; or one error for the whole batch
   * (a timeout or a connection fault: every entry may or may not have been applied).
   */
  quietBatch<E extends PipelineEntry>(
    index: number,
    entries: readonly E[],
    request: PipelineRequest<E>,
    fail: (entry: E, response: Response) => unknown,
    done: (outcome: Settled<unknown[]>) => void,
  ): void {
    const server = this.#servers()[index];
    if (server === undefined) {
      done({ error: unavailable(undefined) });
      return;
    }
    const count = entries.length;
    const first = this.#opaque();
    for (let i = 1; i <= count; i++) this.#client.incrSeq();
    const last = (first + count) >>> 0;
    const blob = encodeBatch(entries, request, (i) => (first + i) >>> 0, last);
    const outcomes: unknown[] = new Array(count).fill(undefined);
    const onFailure = (response: Response) => {
      const i = (response.header.opaque - first) >>> 0;
      if (i < count) outcomes[i] = fail(entries[i]!, response);
    };
    // Quiet: memjs keeps the callback after an answer with a body; the NOOP's handler removes them.
    (onFailure as { quiet?: boolean }).quiet = true;
    for (let i = 0; i < count; i++) server.onResponse((first + i) >>> 0, onFailure);
    this.#start(
      undefined,
      server,
      last,
      blob,
      false,
      () => {
        const callbacks = server.responseCallbacks;
        for (let i = 0; i < count; i++) delete callbacks[(first + i) >>> 0];
        return { value: outcomes };
      },
      done,
      false,
    );
  }

  /** Every server's `stats`, in server order. */
  stats(): Promise<Record<string, string>[]> {
    return Promise.all(
      this.#servers().map((server) => {
        const opaque = this.#opaque();
        const stats: Record<string, string> = {};
        const blob = encodeRequest(Opcode.stat, EMPTY, 0, undefined, undefined, opaque);
        return this.#exchange<Record<string, string>>(undefined, server, opaque, blob, true, (response) => {
          if (response.header.status !== Status.ok)
            return { error: statusError('info', response, undefined) };
          if (response.header.keyLength === 0) return { value: stats };
          stats[response.key.toString('latin1')] = response.val.toString('latin1');
          return undefined;
        });
      }),
    );
  }

  /** Fails what is pending and, when the client is the store's own, drops its connections. */
  close(owned: boolean): void {
    this.#closed = true;
    this.#deadlines.close();
    if (!owned) return;
    for (const server of this.#servers()) {
      server.error(new CacheClosedError('the memcached store was closed', { store: NAME }));
    }
  }

  #servers(): WireServer[] {
    return this.#client.servers as WireServer[];
  }

  /** Groups entries by the server the ring maps their key to, keeping the order within a group. */
  #byServer<E extends { key: string }>(entries: readonly E[]): [WireServer, E[]][] {
    const groups = new Map<WireServer, E[]>();
    for (const entry of entries) {
      const server = this.#serverFor(entry.key);
      const group = groups.get(server);
      if (group === undefined) groups.set(server, [entry]);
      else group.push(entry);
    }
    return [...groups];
  }

  #serverFor(key: string): WireServer {
    return this.#at(this.indexFor(key), key);
  }

  /** Server `index`, or `undefined` once `done` has been told none is there (its deadline settled). */
  #present<T>(
    index: number,
    key: string | undefined,
    done: (outcome: Settled<T>) => void,
    deadline: Deadline | undefined,
  ): WireServer | undefined {
    const server = this.#servers()[index];
    if (server === undefined) {
      if (deadline !== undefined) this.#deadlines.settle(deadline);
      done({ error: unavailable(key) });
    }
    return server;
  }

  #at(index: number, key: string | undefined): WireServer {
    const server = this.#servers()[index];
    if (server === undefined) throw unavailable(key);
    return server;
  }

  /** The next opaque. memjs wraps its counter to a signed 32-bit number; answers carry it unsigned. */
  #opaque(): number {
    this.#client.incrSeq();
    return this.#client.seq >>> 0;
  }

  #exchange<T>(
    key: string | undefined,
    server: WireServer,
    opaque: number,
    blob: Buffer,
    quiet: boolean,
    handle: Handler<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (outcome: Settled<T>) => {
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      };
      this.#start(key, server, opaque, blob, quiet, handle, done, true);
    });
  }

  /**
   * Writes `blob` and hands every answer under `opaque` to `handle` until it decides; `done`
   * then gets the outcome, exactly once: the handler's, a timeout's, or a connection fault's.
   */
  #start<T>(
    key: string | undefined,
    server: WireServer,
    opaque: number,
    blob: Buffer,
    quiet: boolean,
    handle: Handler<T>,
    done: (outcome: Settled<T>) => void,
    cork: boolean,
    started?: Deadline,
  ): void {
    if (this.#closed) {
      if (started !== undefined) this.#deadlines.settle(started);
      done({ error: new CacheClosedError('the memcached store was closed', { store: NAME }) });
      return;
    }
    let settled = false;
    const expire = () => {
      if (settled) return;
      settled = true;
      done({ error: timeoutError(endpoint(server), this.#timeoutMs, key, this.#ring !== undefined) });
      this.#discard(server, new Error(`no answer within ${this.#timeoutMs} ms`));
    };
    let deadline: Deadline;
    if (started === undefined) deadline = this.#deadlines.add(expire);
    else {
      deadline = started;
      deadline.expire = expire;
    }
    const finish = (outcome: Settled<T>) => {
      if (settled) return;
      settled = true;
      this.#deadlines.settle(deadline);
      done(outcome);
    };
    const onResponse = (response: Response) => {
      let outcome: Outcome<T>;
      try {
        outcome = handle(response);
      } catch (error) {
        outcome = { error };
      }
      if (outcome !== undefined) finish(outcome);
    };
    // memjs keeps a quiet callback for every answer until one with an empty body (the NOOP).
    if (quiet) (onResponse as { quiet?: boolean }).quiet = true;
    server.onResponse(opaque, onResponse);
    server.onError(opaque, (error: unknown) => {
      finish({ error: connectionError(key, endpoint(server), error, this.#ring !== undefined) });
      this.#discard(server, error);
    });
    try {
      if (cork) this.#cork(server);
      server.write(blob);
      this.#watch(server);
    } catch (error) {
      finish({ error: connectionError(key, endpoint(server), error, this.#ring !== undefined) });
      this.#discard(server, error);
    }
  }

  /**
   * Holds a connected server's writes until the end of the tick, so the requests of one tick
   * leave in one system call (writev) instead of one each: on loopback the write itself is most
   * of a request's CPU. memjs still writes (and times) each request as before. Only for requests
   * that are not batched (incr, add, delete, touch …), which concurrent callers issue one each;
   * a batch is one write already, and holding it would cost a lone get or set a tick of its own.
   */
  #cork(server: WireServer): void {
    const socket = server._socket;
    if (socket === undefined || !server.connected || this.#corked.has(socket)) return;
    this.#corked.add(socket);
    socket.cork();
    process.nextTick(() => {
      this.#corked.delete(socket);
      socket.uncork();
    });
  }

  /**
   * memjs leaves callbacks pending when a connection closes without a socket error (memcached
   * at its connection limit writes a text "ERROR" and hangs up); fail them at once instead.
   */
  #watch(server: WireServer): void {
    const socket = server._socket;
    if (socket === undefined || this.#watched.has(socket)) return;
    this.#watched.add(socket);
    socket.once('close', () => {
      if (this.#closed) return;
      this.#discard(
        server,
        new Error('memcached closed the connection (it may be restarting or at its connection limit, -c)'),
      );
    });
  }

  /**
   * Replaces a server's memjs connection object with a fresh one and fails what was pending on
   * the old one. A fresh object also drops memjs's response buffer, which a half-read or
   * foreign reply would otherwise leave misaligned for every later call.
   */
  #discard(server: WireServer, reason: unknown): void {
    const servers = this.#servers();
    const index = servers.indexOf(server);
    if (index === -1) return;
    if (!this.#closed) {
      const fresh = new Server(
        server.host,
        server.port,
        server.username,
        server.password,
        server.options,
      ) as WireServer;
      fresh.username = server.username;
      fresh.password = server.password;
      servers[index] = fresh;
    }
    server.error(reason instanceof Error ? reason : new Error(String(reason)));
  }
}

function unavailable(key: string | undefined): StoreUnavailableError {
  return new StoreUnavailableError('no memcached server is available for this key', { key, store: NAME });
}

function endpoint(server: Server): string {
  return `${server.host}:${server.port}`;
}
