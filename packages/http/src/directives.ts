import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Response header values as Node keeps them. */
export type HeaderValue = string | string[] | number | undefined;

/** The `Cache-Control` directives of a response, lower-cased; a directive without a value maps to `true`. */
export function parseCacheControl(value: HeaderValue): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (const part of headerText(value).split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq === -1) out.set(trimmed.toLowerCase(), true);
    else
      out.set(
        trimmed.slice(0, eq).trim().toLowerCase(),
        trimmed
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ''),
      );
  }
  return out;
}

/** The header names in a `Vary` value, lower-cased, de-duplicated and sorted (`*` kept as is). */
export function parseVary(value: HeaderValue): string[] {
  const names = new Set<string>();
  for (const part of headerText(value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

/** One string for a header that Node may keep as a number or a list. */
export function headerText(value: HeaderValue): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Something that holds response headers: a node:http `ServerResponse` (Express's too), or a Fastify reply. */
export type HeaderTarget =
  | {
      getHeader(name: string): HeaderValue;
      setHeader(name: string, value: string | string[] | number): unknown;
    }
  | { getHeader(name: string): HeaderValue; header(name: string, value: string): unknown };

function setOn(target: HeaderTarget | ServerResponse, name: string, value: string): void {
  if ('setHeader' in target && typeof target.setHeader === 'function') target.setHeader(name, value);
  else (target as { header(name: string, value: string): unknown }).header(name, value);
}

const NEVER_CACHE = 'max-age=0, no-cache, no-store, must-revalidate, private';

/**
 * Marks a response as never to be cached, by Larder or by any browser or proxy (Django's
 * `never_cache`): `Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`.
 */
export function neverCache(res: HeaderTarget | ServerResponse): void {
  setOn(res, 'Cache-Control', NEVER_CACHE);
}

/**
 * Adds request header names to the response's `Vary` (Django's `vary_on_headers`), keeping
 * those already there: the page cache then keeps one entry per value of each.
 */
export function varyOn(res: HeaderTarget | ServerResponse, ...headers: string[]): void {
  const target = res as HeaderTarget;
  const names = parseVary(target.getHeader('Vary'));
  if (names.includes('*')) return;
  const seen = new Set(names);
  const merged = headerText(target.getHeader('Vary'))
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const header of headers) {
    for (const part of header.split(',')) {
      const name = part.trim();
      if (name !== '' && !seen.has(name.toLowerCase())) {
        seen.add(name.toLowerCase());
        merged.push(name);
      }
    }
  }
  setOn(target, 'Vary', merged.join(', '));
}

/** Directives for `cacheControl(res, directives)`: `true` adds a bare directive, `false` removes it. */
export type CacheControlDirectives = Record<string, string | number | boolean>;

/**
 * Merges directives into the response's `Cache-Control` (Django's `patch_cache_control`):
 * `cacheControl(res, { public: true, 'max-age': 300 })`. `private` removes `public` and back.
 */
export function cacheControl(res: HeaderTarget | ServerResponse, directives: CacheControlDirectives): void {
  const target = res as HeaderTarget;
  const current = parseCacheControl(target.getHeader('Cache-Control'));
  for (const [rawName, value] of Object.entries(directives)) {
    const name = rawName.toLowerCase().replace(/_/g, '-');
    if (name === 'private' && value !== false) current.delete('public');
    if (name === 'public' && value !== false) current.delete('private');
    if (value === false) current.delete(name);
    else current.set(name, value === true ? true : String(value));
  }
  const text = [...current].map(([name, value]) => (value === true ? name : `${name}=${value}`)).join(', ');
  setOn(target, 'Cache-Control', text);
}

/** Copies headers into a plain object with lower-case names, dropping undefined ones. */
export function plainHeaders(
  headers: OutgoingHttpHeaders | Record<string, HeaderValue>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}
