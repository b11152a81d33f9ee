export {
  type CacheControlDirectives,
  cacheControl,
  type HeaderTarget,
  neverCache,
  varyOn,
} from './directives.js';
export type { Verdict } from './engine.js';
export { type FastifyPageCacheOptions, type FastifyRoutePageCache, fastifyPageCache } from './fastify.js';
export { cachePage, type NextFunction, pageCache } from './node.js';
export type { PageCacheOptions } from './options.js';
export { invalidatePage } from './page-key.js';
