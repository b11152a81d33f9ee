import { CacheConfigError } from './errors.js';

/**
 * What one option may hold: a `typeof` name (or several), or a check with a description of
 * what it accepts (used in the error message).
 */
export type OptionRule =
  | 'string'
  | 'number'
  | 'boolean'
  | 'function'
  | 'object'
  | readonly ('string' | 'number' | 'boolean' | 'function' | 'object')[]
  | { readonly accepts: string; readonly check: (value: unknown) => boolean };

/** The options one factory accepts, by name. An option set to `undefined` always passes. */
export type OptionSpec = Readonly<Record<string, OptionRule>>;

/**
 * Checks an options object against its spec, in the constructor: an unknown option fails
 * naming the nearest known one ("unknown option defaultTTL; did you mean defaultTtl?"), and
 * an option of the wrong type fails naming what it takes. `owner` names the factory
 * (`createCache`, `redisStore`).
 */
export function checkOptions(owner: string, options: unknown, spec: OptionSpec): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new CacheConfigError(`${owner} takes an options object, got ${describe(options)}`);
  }
  const known = Object.keys(spec);
  for (const [name, value] of Object.entries(options)) {
    const rule = spec[name];
    if (rule === undefined) {
      const near = nearest(name, known);
      throw new CacheConfigError(
        `unknown option ${name} for ${owner}${near === undefined ? `; known options: ${known.join(', ')}` : `; did you mean ${near}?`}`,
      );
    }
    if (value === undefined) continue;
    if (typeof rule === 'object' && !Array.isArray(rule)) {
      const custom = rule as { accepts: string; check: (value: unknown) => boolean };
      if (!custom.check(value)) {
        throw new CacheConfigError(
          `${owner} option ${name} must be ${custom.accepts}, got ${describe(value)}`,
        );
      }
      continue;
    }
    const types = (typeof rule === 'string' ? [rule] : rule) as readonly string[];
    const actual = value === null ? 'null' : typeof value;
    if (!types.includes(actual)) {
      throw new CacheConfigError(
        `${owner} option ${name} must be a ${types.join(' or a ')}, got ${describe(value)}`,
      );
    }
  }
}

/** A short, secret-free description of a bad value for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `a string (${value.length} characters)`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'function':
      return 'a function';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** The known name closest to `name` (case-insensitive edit distance ≤ 3), if any. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
