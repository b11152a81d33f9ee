import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type Cache, CacheConfigError } from '@larder/core';

/** What the page cache reads from a request, whatever the framework. */
export interface RequestView {
  method: string;
  /** The request target: path and query (`/products?page=2`). */
  url: string;
  headers: IncomingHttpHeaders;
  /** Whether the connection is TLS. */
  encrypted: boolean;
}

/** The per-URL record (Django's `learn_cache_key`): the headers the page varies on, and a generation. */
export interface PageIndex {
  /** Request headers (lower-case, sorted) the last stored response named in `Vary`, plus the `vary` option. */
  vary: string[];
  /** Part of every entry key of this URL; a new one (after `invalidatePage`) orphans the old entries. */
  gen: string;
}

/** Path plus the query string with its parameters in a canonical (stable, by name) order. */
export function canonicalTarget(url: string): string {
  const hash = url.indexOf('#');
  const target = hash === -1 ? url : url.slice(0, hash);
  const mark = target.indexOf('?');
  if (mark === -1) return target;
  const params = new URLSearchParams(target.slice(mark + 1));
  params.sort();
  const query = params.toString();
  return query === '' ? target.slice(0, mark) : `${target.slice(0, mark)}?${query}`;
}

/** Key of the per-URL index; the host is not part of it, so `invalidatePage` reaches every host. */
export function indexKey(cache: Cache, target: string): string {
  return cache.key('page-index', digest(target));
}

/**
 * Key of one stored page: the URL's generation, then a digest of scheme, Host, the forwarded
 * host and scheme (which frameworks reflect into pages), the canonical target, and the names
 * and values of every header the page varies on.
 */
export function entryKey(cache: Cache, request: RequestView, target: string, index: PageIndex): string {
  const h = request.headers;
  const parts = [
    request.encrypted ? 'https' : 'http',
    headerValue(h.host),
    headerValue(h['x-forwarded-host']),
    headerValue(h['x-forwarded-proto']),
    target,
  ];
  for (const name of index.vary) parts.push(`${name}=${headerValue(h[name])}`);
  return cache.key('page', index.gen, digest(JSON.stringify(parts)));
}

/** A request header as one string (absent and empty are the same). */
export function headerValue(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join('\n') : value;
}

/** A new generation for a URL's entries. */
export function newGeneration(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 6).toString(36)}`;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * Drops every cached page of a URL (all hosts, all variants): the next request renders it
 * again. `url` is a path with its query (`/products?page=2`) or an absolute URL, whose
 * host is ignored. Resolves whether a page index was removed.
 */
export async function invalidatePage(cache: Cache, url: string): Promise<boolean> {
  if (typeof url !== 'string' || url === '') {
    throw new CacheConfigError('invalidatePage needs the page URL, such as "/products?page=2"');
  }
  let target = url;
  if (!url.startsWith('/')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CacheConfigError(
        `invalidatePage needs a path starting with "/" or an absolute URL, got "${url}"`,
      );
    }
    target = parsed.pathname + parsed.search;
  }
  return cache.delete(indexKey(cache, canonicalTarget(target)));
}
