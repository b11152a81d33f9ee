import { createHash } from 'node:crypto';
import { CacheConfigError } from '@larder/core';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A validated table name, quoted for SQL, with the name of its expiry index. */
export interface TableName {
  /** The name as configured, e.g. 'larder_cache' or 'cache.entries'. */
  readonly raw: string;
  /** Quoted for SQL: '"larder_cache"' or '"cache"."entries"'. */
  readonly quoted: string;
  /** The expiry index, quoted and unqualified (an index lives in its table's schema). */
  readonly index: string;
  /** A short stable tag for statement names, so two tables never share a prepared statement name. */
  readonly tag: string;
}

/**
 * Validates and quotes a table name. Each part must be a plain identifier (letters, digits,
 * '_', at most 63 characters) so that no configuration can inject SQL; `schema.table` only
 * where the database has schemas.
 */
export function tableName(raw: string, allowSchema: boolean): TableName {
  if (typeof raw !== 'string') throw new CacheConfigError(`table must be a string, got ${typeof raw}`);
  const parts = raw.split('.');
  if (parts.length > (allowSchema ? 2 : 1) || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new CacheConfigError(
      `table "${raw}" is not a valid name; use letters, digits and '_' (at most 63 characters, not starting with a digit)${allowSchema ? ', optionally as schema.table' : ''}`,
    );
  }
  const table = parts[parts.length - 1] as string;
  return {
    raw,
    quoted: parts.map((part) => `"${part}"`).join('.'),
    index: `"${`${table.slice(0, 48)}_expires_at_idx`}"`,
    tag: createHash('sha256').update(raw).digest('hex').slice(0, 8),
  };
}

/**
 * Orders strings by Unicode code point, which is the byte order of their UTF-8 form and so
 * the order of a binary-collated key index. Every multi-row write sends its keys in this
 * order, so two batches always lock shared rows in the same order and cannot deadlock.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 puts U+E000..U+FFFF after the surrogates that encode astral code points; code point order does not.
      if (x >= 0xd800 && y >= 0xd800) {
        const xs = x <= 0xdfff;
        if (xs !== y <= 0xdfff) return xs ? 1 : -1;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Splits a list into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A view of the bytes as a Buffer, without copying. */
export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
