import {
  CacheError,
  NotIntegerError,
  StoreAuthError,
  StoreFullError,
  StorePermissionError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '@larder/core';

/** What the error mapper needs to know to write a message that says what to change. */
export interface ErrorContext {
  /** `redis://host:port[/db]` without credentials, for messages. */
  endpoint: string;
  /** The store's `timeout`, in ms. */
  timeoutMs: number;
  /** The store operation, e.g. `'get'`. */
  operation: string;
  key?: string | undefined;
}

const STORE = 'redis';

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The command name ioredis attached to a reply error (the name only; the args may hold secrets). */
function commandOf(error: unknown): string | undefined {
  const command = (error as { command?: { name?: unknown } } | undefined)?.command;
  return typeof command?.name === 'string' ? command.name : undefined;
}

/** Whether a reply says the value is not an integer (INCRBY on text, or on another type). */
export function isNotInteger(error: unknown): boolean {
  return /not an integer|WRONGTYPE|would overflow/i.test(messageOf(error));
}

/** Whether a reply says the key holds a hash, list, ... instead of a string. */
export function isWrongType(error: unknown): boolean {
  return messageOf(error).startsWith('WRONGTYPE');
}

/**
 * Turns an ioredis or Node error into Larder's typed error. The driver error becomes the
 * sanitized `cause` (the CacheError constructor drops `command.args`, where ioredis keeps AUTH
 * passwords), and messages name the endpoint without credentials.
 */
export function toStoreError(error: unknown, context: ErrorContext): CacheError {
  if (error instanceof CacheError) return error;
  const message = messageOf(error);
  const base = { key: context.key, store: STORE, cause: error };
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) {
    return new StoreAuthError(
      `authentication failed for ${context.endpoint} (check the password / ACL user)`,
      base,
    );
  }
  if (message.startsWith('NOPERM')) {
    const command = commandOf(error) ?? context.operation;
    const what = /key/i.test(message) ? 'a key outside its key patterns' : `the '${command}' command`;
    return new StorePermissionError(
      `the redis user may not use ${what} (NOPERM on '${command}'); grant it, e.g. ACL SETUSER <user> +${command} ~<prefix>*`,
      base,
    );
  }
  if (message.startsWith('OOM')) {
    return new StoreFullError(
      `redis at ${context.endpoint} is out of memory and refuses writes; set maxmemory-policy allkeys-lru or raise maxmemory`,
      base,
    );
  }
  if (message === 'Command timed out') {
    return new StoreTimeoutError(
      `redis ${context.operation} did not answer within ${context.timeoutMs} ms; check ${context.endpoint} or raise the store's timeout`,
      base,
    );
  }
  if (message.includes('LARDER_UNSAFE_INTEGER')) {
    return new NotIntegerError(
      'incr would take the counter past ±(2^53 - 1) (Number.MAX_SAFE_INTEGER), out of the safe-integer range a JavaScript number holds exactly; the stored value is unchanged',
      base,
    );
  }
  if (context.operation === 'incr' && isNotInteger(error)) {
    return new NotIntegerError('incr on a value that is not an integer (or would overflow 64 bits)', base);
  }
  return new StoreUnavailableError(
    `redis ${context.operation} failed at ${context.endpoint}: ${message}`,
    base,
  );
}
