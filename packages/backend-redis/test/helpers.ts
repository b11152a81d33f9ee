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
