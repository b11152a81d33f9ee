import { createHash } from 'node:crypto';
import type { HeaderValue } from './directives.js';

/** A stored page. */
export interface PageEntry {
  status: number;
  /** Response headers (lower-case), without hop-by-hop headers, Set-Cookie, Age and Content-Length. */
  headers: Record<string, string | string[]>;
  /** The body, base64. */
  body: string;
  /** A strong validator: the response's own strong ETag, or one computed from the body. */
  etag: string;
  /** Epoch ms the entry was stored, for `Age`. */
  storedAt: number;
  /** The request headers the entry was keyed on. */
  vary: string[];
  /** Credential headers whose holders may be served this entry although it does not vary on them. */
  sharedAcross: 'all' | 'authorization' | 'none';
}

/** Headers that describe one connection, never a stored response (RFC 9110 §7.6.1), plus those recomputed. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'age',
  'content-length',
  'date',
  'server-timing',
]);

/** Builds an entry from a captured response. */
export function buildEntry(
  status: number,
  headers: Record<string, string | string[]>,
  body: Buffer,
  vary: string[],
  sharedAcross: PageEntry['sharedAcross'],
  now: number,
  extraDropped: string | false,
): PageEntry {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!DROPPED.has(name) && name !== extraDropped) kept[name] = value;
  }
  const own = typeof kept.etag === 'string' && kept.etag.startsWith('"') ? kept.etag : undefined;
  const etag = own ?? `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  kept.etag = etag;
  return { status, headers: kept, body: body.toString('base64'), etag, storedAt: now, vary, sharedAcross };
}

/** Whether a value read back from the cache is a page entry (anything else is a miss). */
export function isEntry(value: unknown): value is PageEntry {
  const entry = value as PageEntry;
  return (
    typeof entry === 'object' &&
    entry !== null &&
    typeof entry.status === 'number' &&
    typeof entry.body === 'string' &&
    typeof entry.etag === 'string' &&
    typeof entry.headers === 'object' &&
    Array.isArray(entry.vary) &&
    typeof entry.storedAt === 'number'
  );
}

/**
 * Whether the request's validators match the entry, so a 304 answers it: `If-None-Match`
 * (weak comparison, RFC 9110 §13.1.2) wins over `If-Modified-Since`.
 */
export function notModified(
  entry: PageEntry,
  ifNoneMatch: HeaderValue,
  ifModifiedSince: HeaderValue,
): boolean {
  if (ifNoneMatch !== undefined) {
    const text = String(ifNoneMatch).trim();
    if (text === '*') return true;
    const own = weak(entry.etag);
    return text.split(',').some((tag) => weak(tag.trim()) === own);
  }
  const lastModified = entry.headers['last-modified'];
  if (ifModifiedSince === undefined || typeof lastModified !== 'string') return false;
  const since = Date.parse(String(ifModifiedSince));
  const modified = Date.parse(lastModified);
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}

function weak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
