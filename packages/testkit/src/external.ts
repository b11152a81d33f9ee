import { FaultInjectionUnsupportedError, ServerUnavailableError } from './errors.js';
import type { ServerHandle, ServerKind, ServerSource } from './handle.js';

/** A server the testkit did not start as a process: from an env URL, or in a container. */
export class ExternalServer implements ServerHandle {
  readonly pid = undefined;
  #stop: (() => Promise<void>) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly kind: ServerKind,
    readonly source: Exclude<ServerSource, 'local'>,
    readonly url: string,
    readonly host: string,
    readonly port: number,
    readonly version: string,
    stop?: () => Promise<void>,
  ) {
    this.#stop = stop;
  }

  /** Stops a container the testkit started; never touches a server given by an environment URL. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop?.() ?? Promise.resolve();
    return this.#stopping;
  }
  kill(): Promise<void> {
    return this.#refuse('kill');
  }
  pause(): Promise<void> {
    return this.#refuse('pause');
  }
  resume(): Promise<void> {
    return this.#refuse('resume');
  }
  restart(): Promise<void> {
    return this.#refuse('restart');
  }

  #refuse(method: string): Promise<never> {
    return Promise.reject(new FaultInjectionUnsupportedError(this.kind, method, this.source));
  }
}

/** Hides the password of a URL for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/** Probes a server named by an environment variable and wraps it, or explains why it cannot be used. */
export async function useEnvServer(
  kind: ServerKind,
  variable: string,
  url: string,
  target: { host: string; port: number },
  probe: () => Promise<string>,
): Promise<ExternalServer> {
  try {
    const version = await probe();
    return new ExternalServer(kind, 'env', url, target.host, target.port, version);
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new ServerUnavailableError(
      kind,
      `${variable}=${redactUrl(url)} is set but the server there does not answer: ${cause}`,
      `start ${kind} at that address, fix ${variable}, or unset it so the testkit starts its own server`,
      { cause: error },
    );
  }
}
