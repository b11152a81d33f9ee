import type { RedisStoreLogger } from '../src/index.js';

/** A logger that keeps what it is given, for assertions (and to keep test output clean). */
export function quietLogger(): RedisStoreLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    warn: (object, message) => {
      warnings.push(`${message} ${JSON.stringify(object)}`);
    },
  };
}

/** Everything written to stdout, stderr and the console while `capture` is on, to look for secrets. */
export function captureOutput(): { text: () => string; restore: () => void } {
  const chunks: string[] = [];
  const originals = {
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
    log: console.log,
    warn: console.warn,
    error: console.error,
    info: console.info,
    debug: console.debug,
  };
  const keep =
    (write: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      chunks.push(String(chunk));
      return (write as (chunk: unknown, ...rest: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = keep(originals.out) as typeof process.stdout.write;
  process.stderr.write = keep(originals.err) as typeof process.stderr.write;
  for (const level of ['log', 'warn', 'error', 'info', 'debug'] as const) {
    console[level] = (...args: unknown[]) => {
      chunks.push(
        args.map((arg) => (typeof arg === 'string' ? arg : (JSON.stringify(arg) ?? String(arg)))).join(' '),
      );
    };
  }
  return {
    text: () => chunks.join('\n'),
    restore: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
      console.log = originals.log;
      console.warn = originals.warn;
      console.error = originals.error;
      console.info = originals.info;
      console.debug = originals.debug;
    },
  };
}

/** Collects unhandled rejections while a test runs. */
export function watchUnhandled(): { rejections: unknown[]; stop: () => void } {
  const rejections: unknown[] = [];
  const listener = (reason: unknown) => {
    rejections.push(reason);
  };
  process.on('unhandledRejection', listener);
  return { rejections, stop: () => process.off('unhandledRejection', listener) };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves how long `promise` took to settle, in ms, and its outcome. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}
