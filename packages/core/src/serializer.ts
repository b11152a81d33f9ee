import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8';
import { SerializationError } from './errors.js';

/** Turns values into bytes and back. `id` goes into each value's frame so old values stay readable. */
export interface Serializer {
  /** 1 = JSON, 2 = v8, 3 = a custom serializer (msgpack, ...). */
  readonly id: 1 | 2 | 3;
  readonly name: string;
  /** Throws `SerializationError` for a value it cannot round-trip faithfully. */
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

/**
 * JSON that refuses to alter data silently: BigInt, circular structures, functions,
 * symbols, `undefined`, NaN/Infinity, Map/Set/typed arrays and class instances are
 * rejected (use the v8 serializer for those). Dates become ISO strings (documented).
 * Decoding never evaluates code and drops `__proto__` and `constructor` keys.
 */
export const jsonSerializer: Serializer = {
  id: 1,
  name: 'json',
  serialize(value) {
    return Buffer.from(jsonText(value), 'utf8');
  },
  deserialize(bytes) {
    return parseJson(utf8(bytes, 0));
  },
};

/** The JSON text of `value`, or a `SerializationError` naming what JSON would not keep. */
export function jsonText(value: unknown): string {
  let text: string | undefined;
  try {
    // Plain data passes a cheap walk and takes JSON.stringify's fast path; anything else goes
    // through the replacer, which names the offending field (or JSON's own cycle error).
    text = isPlainJson(value, 0) ? JSON.stringify(value) : JSON.stringify(value, strictReplacer);
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw new SerializationError(`value cannot be stored as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (text === undefined) {
    throw new SerializationError(
      `${typeof value} cannot be stored as JSON; store null or a plain value instead`,
    );
  }
  return text;
}

/**
 * Text in which JSON could name a `__proto__` or `constructor` key: either word, or a `\u00`
 * escape (which can spell either). One regular-expression pass over the text is cheaper
 * than one `includes` per word.
 */
const MAY_NAME_DANGEROUS_KEY = /__proto__|constructor|\\u00/;

/** `JSON.parse` that drops `__proto__` and `constructor` keys; the reviver runs only when the text may name one. */
export function parseJson(text: string): unknown {
  return MAY_NAME_DANGEROUS_KEY.test(text) ? JSON.parse(text, dropDangerousKeys) : JSON.parse(text);
}

/** node:v8 structured clone: Map, Set, Date, BigInt, typed arrays and cycles round-trip; class instances lose their prototype. */
export const v8Serializer: Serializer = {
  id: 2,
  name: 'v8',
  serialize(value) {
    if (value === undefined) throw new SerializationError('undefined cannot be stored; store null instead');
    try {
      return v8Serialize(value);
    } catch (error) {
      throw new SerializationError(
        `value cannot be stored with the v8 serializer: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  },
  deserialize(bytes) {
    return v8Deserialize(bytes);
  },
};

/** Deeper than this, the walk gives up and lets the replacer decide (cycles end there too). */
const MAX_WALK_DEPTH = 64;

/** Whether JSON.stringify would keep `value` exactly (Dates aside, which become strings by design). */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null || value instanceof Date) return true;
      if (depth >= MAX_WALK_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
      for (const key in value) {
        if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      // Symbol-keyed fields would be dropped silently.
      return Object.getOwnPropertySymbols(value).length === 0;
    }
    default:
      return false;
  }
}

function strictReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  switch (typeof original) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(original)) throw reject(key, `${original}`, 'JSON would turn it into null');
      return value;
    case 'undefined':
      // Array holes and undefined fields: JSON drops or nulls them.
      throw reject(key, 'undefined', 'JSON would drop it; use null');
    case 'function':
    case 'symbol':
      throw reject(key, `a ${typeof original}`, 'JSON would drop it');
    case 'bigint':
      throw reject(key, 'a BigInt', 'JSON cannot hold it; use the v8 serializer or a string');
    case 'object': {
      if (original === null || Array.isArray(original) || original instanceof Date) return value;
      const proto = Object.getPrototypeOf(original);
      if (proto === Object.prototype || proto === null) {
        if (Object.getOwnPropertySymbols(original).length === 0) return value;
        throw reject(key, 'an object with Symbol keys', 'JSON would drop those fields');
      }
      const kind = (original as object).constructor?.name ?? 'object';
      throw reject(
        key,
        `a ${kind}`,
        'JSON would not keep it as it is; convert it to plain data or use the v8 serializer',
      );
    }
  }
  return value;
}

function reject(key: string, what: string, why: string): SerializationError {
  const where = key === '' ? 'the value' : `field "${key}"`;
  return new SerializationError(`${where} is ${what}: ${why}`);
}

function dropDangerousKeys(key: string, value: unknown): unknown {
  return key === '__proto__' || key === 'constructor' ? undefined : value;
}

/** Decodes UTF-8 from `start` without copying the bytes (a Buffer needs no wrapper first). */
export function utf8(bytes: Uint8Array, start: number): string {
  return bytes instanceof Buffer
    ? bytes.toString('utf8', start)
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', start);
}
