import type { TLSSocket } from 'node:tls';
import { CacheConfigError, checkOptions, parseTtl, type Ttl } from '@larder/core';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  onResponseHookHandler,
  onSendHookHandler,
  RouteOptions,
} from 'fastify';
import { plainHeaders } from './directives.js';
import { PageCacheEngine, type RouteSettings, type RunPlan } from './engine.js';
import type { PageCacheOptions } from './options.js';

/** Per-route page-cache settings (`fastify.get('/p', { pageCache: { ttl: '1m' } }, handler)`). */
export interface FastifyRoutePageCache {
  /** This route's TTL. @default the plugin's ttl */
  ttl?: Ttl;
  /** See `PageCacheOptions.shared`. @default the plugin's shared */
  shared?: boolean;
}

/** Options of `fastifyPageCache`: the page-cache options plus where it applies. */
export interface FastifyPageCacheOptions extends PageCacheOptions {
  /** Cache every GET route (a route opts out with `pageCache: false`); else only routes that set `pageCache`. @default false */
  global?: boolean;
}

declare module 'fastify' {
  interface RouteShorthandOptions {
    /** Larder's page cache for this route: settings, `true`, or `false` to opt out of a global cache. */
    pageCache?: FastifyRoutePageCache | boolean;
  }
}

const plans = new WeakMap<FastifyRequest, RunPlan>();

/**
 * A Fastify plugin: the page cache on the routes that set `pageCache` (or on every GET route
 * with `global: true`). Register it before the routes. `countCacheOps` is not available here.
 */
export function fastifyPageCache(
  fastify: FastifyInstance,
  options: FastifyPageCacheOptions,
  done: (error?: Error) => void,
): void {
  const { global = false, ...rest } = options ?? ({} as FastifyPageCacheOptions);
  let engine: PageCacheEngine;
  try {
    if (typeof global !== 'boolean') {
      throw new CacheConfigError('fastifyPageCache option global must be a boolean');
    }
    engine = new PageCacheEngine('fastifyPageCache', rest as PageCacheOptions);
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.addHook('onRoute', (route) => {
    const own = (route as RouteOptions & { pageCache?: FastifyRoutePageCache | boolean }).pageCache;
    if (own === false || (own === undefined && !global)) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((method) => method === 'GET' || method === 'HEAD')) return;
    const settings = routeSettings(typeof own === 'object' ? own : {}, route.url ?? route.path ?? '');
    route.onRequest = prepend(route.onRequest, onRequest(engine, settings));
    route.onSend = prepend(route.onSend, onSend);
    route.onResponse = prepend(route.onResponse, onResponse);
  });
  done();
}
// Hooks added here reach routes outside the plugin's own encapsulation context (what fastify-plugin does).
Object.assign(fastifyPageCache, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@larder/http',
});

function routeSettings(own: FastifyRoutePageCache, url: string): RouteSettings {
  const owner = `pageCache of route ${url}`;
  checkOptions(owner, own, { ttl: ['number', 'string'], shared: 'boolean' });
  const settings: RouteSettings = {};
  if (own.ttl !== undefined) {
    const ttlMs = parseTtl(own.ttl, `${owner} ttl`);
    if (ttlMs === 0 || ttlMs === Number.POSITIVE_INFINITY) {
      throw new CacheConfigError(`${owner} ttl must be a positive, finite duration such as '5m'`);
    }
    settings.ttlMs = ttlMs;
  }
  if (own.shared !== undefined) settings.shared = own.shared;
  return settings;
}

function onRequest(engine: PageCacheEngine, settings: RouteSettings): onRequestHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const raw = request.raw;
    const lookup = await engine.lookup(
      {
        method: raw.method ?? 'GET',
        url: raw.url ?? '/',
        headers: raw.headers,
        encrypted: (raw.socket as TLSSocket).encrypted === true,
      },
      settings,
    );
    if (lookup.kind === 'serve') {
      const { page } = lookup;
      reply.code(page.status).headers(page.headers);
      return reply.send(page.body ?? '');
    }
    plans.set(request, lookup.plan);
    return undefined;
  };
}

const onSend: onSendHookHandler<unknown> = async (request, reply, payload) => {
  const plan = plans.get(request);
  if (plan === undefined) return payload;
  plans.delete(request);
  const status = reply.statusCode;
  const extra = plan.onHeaders(status, plainHeaders(reply.getHeaders()));
  reply.headers(extra);
  let body: Buffer | undefined;
  if (typeof payload === 'string') body = Buffer.from(payload);
  else if (payload instanceof Uint8Array) body = Buffer.from(payload);
  else if (payload === null || payload === undefined) body = Buffer.alloc(0);
  // Streams are not collected: they pass through uncached.
  void plan.finish(status, plainHeaders(reply.getHeaders()), body);
  return payload;
};

const onResponse: onResponseHookHandler = async (request) => {
  plans.get(request)?.release();
  plans.delete(request);
};

function prepend<H>(existing: H | H[] | undefined, hook: H): H[] {
  if (existing === undefined) return [hook];
  return [hook, ...(Array.isArray(existing) ? existing : [existing])];
}
