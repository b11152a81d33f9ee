import { connect as connectTcp, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';

/** Where to talk to a server, optionally over TLS. */
export interface Endpoint {
  host: string;
  port: number;
  tls?: ConnectionOptions | undefined;
}

/** Receives every chunk; returns the result once the exchange is complete, or undefined to keep reading. */
export type ChunkHandler<T> = (chunk: Buffer) => T | undefined;

/** Raised when a server accepts the connection but does not finish answering in time. */
export class NoReplyError extends Error {
  override readonly name = 'NoReplyError';
  readonly code = 'ETIMEDOUT';
}

/**
 * Opens one connection, lets `protocol` write and read until it returns a result, then closes.
 * Rejects with the socket error (ECONNREFUSED, …) or a NoReplyError after `timeoutMs`.
 */
export function converse<T>(
  endpoint: Endpoint,
  timeoutMs: number,
  protocol: (write: (data: Buffer | string) => void) => ChunkHandler<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const socket: Socket = endpoint.tls
      ? connectTls({ host: endpoint.host, port: endpoint.port, servername: 'localhost', ...endpoint.tls })
      : connectTcp({ host: endpoint.host, port: endpoint.port });
    const finish = (error: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value as T);
    };
    const timer = setTimeout(
      () =>
        finish(new NoReplyError(`no reply from ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    // writes made before the (TLS) connection is up are buffered by the socket
    const write = (data: Buffer | string) => {
      socket.write(data);
    };
    const onChunk = protocol(write);
    socket.on('data', (chunk: Buffer) => {
      try {
        const result = onChunk(chunk);
        if (result !== undefined) finish(undefined, result);
      } catch (error) {
        finish(error);
      }
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () =>
      finish(new Error(`${endpoint.host}:${endpoint.port} closed the connection before answering`)),
    );
  });
}
