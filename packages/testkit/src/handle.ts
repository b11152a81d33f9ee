import type { ConnectionOptions } from 'node:tls';

/** Where to reach a server, optionally over TLS. */
export interface Endpoint {
  host: string;
  port: number;
  tls?: ConnectionOptions | undefined;
}

/** The servers the testkit knows how to provide. */
export type ServerKind = 'redis' | 'memcached' | 'postgres';

/** Where a server came from: an environment URL, a local binary the testkit started, or a container. */
export type ServerSource = 'env' | 'local' | 'container';

/** A running server and the faults that can be injected into it. */
export interface ServerHandle {
  readonly kind: ServerKind;
  /** redis: `redis://127.0.0.1:PORT`; memcached: `127.0.0.1:PORT`; postgres: `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The version the server itself reports. */
  readonly version: string;
  readonly source: ServerSource;
  /** The server process id when the testkit started it locally. */
  readonly pid: number | undefined;
  /** Stops the server gracefully and removes its temp dir; idempotent; a no-op for servers the testkit did not start. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL; `restart()` brings it back. */
  kill(): Promise<void>;
  /** Freezes the server with SIGSTOP: connections stay open but nothing answers. */
  pause(): Promise<void>;
  /** Thaws a paused server with SIGCONT. */
  resume(): Promise<void>;
  /** Brings the server back on the same port (after `kill()` or while running); resolves once it answers. */
  restart(): Promise<void>;
}
