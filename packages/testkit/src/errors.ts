import type { ServerKind } from './handle.js';

/** Thrown when no server of a kind can be found, started or reached; says why and what to do about it. */
export class ServerUnavailableError extends Error {
  override readonly name = 'ServerUnavailableError';
  /** Which server was wanted. */
  readonly kind: ServerKind;
  /** What went wrong, in one or more sentences (may end with the server's log tail). */
  readonly reason: string;
  /** What to change so the server becomes available. */
  readonly fix: string;

  constructor(kind: ServerKind, reason: string, fix: string, options?: { cause?: unknown }) {
    super(`${kind} server unavailable: ${reason}\nFix: ${fix}`, options);
    this.kind = kind;
    this.reason = reason;
    this.fix = fix;
  }
}

/** Thrown by the fault methods of a server the testkit did not start itself. */
export class FaultInjectionUnsupportedError extends Error {
  override readonly name = 'FaultInjectionUnsupportedError';

  constructor(kind: ServerKind, method: string, source: string) {
    super(
      `${method}() on a ${kind} server from ${source === 'env' ? 'the environment URL' : 'a container'} is refused: ` +
        `fault injection needs a server the testkit started from a local binary; pass { useEnv: false }`,
    );
  }
}

/** Raised when a server accepts the connection but does not finish answering in time. */
export class NoReplyError extends Error {
  override readonly name = 'NoReplyError';
  readonly code = 'ETIMEDOUT';
}

/** Resolves with `work`, or rejects with a NoReplyError naming `endpoint` after `timeoutMs`. */
export async function answerWithin<T>(
  work: Promise<T>,
  endpoint: { host: string; port: number },
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new NoReplyError(`no reply from ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
