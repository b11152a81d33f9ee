import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { plainHeaders } from './directives.js';
import { PageCacheEngine, type RunPlan, type ServedPage } from './engine.js';
import type { PageCacheOptions } from './options.js';
import type { RequestView } from './page-key.js';

/** A connect/Express `next`. */
export type NextFunction = (error?: unknown) => void;

/**
 * connect/Express middleware that serves pages from a Larder cache and stores the ones the
 * rules allow (see the README's "Web" section). Bad options throw here, at set-up.
 */
export function pageCache(
  options: PageCacheOptions,
): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  const engine = new PageCacheEngine('pageCache', options);
  return (req, res, next) => {
    handle(engine, req, res, () => next());
  };
}

/** Wraps a plain `node:http` request handler with the page cache. Bad options throw here. */
export function cachePage(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  options: PageCacheOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const engine = new PageCacheEngine('cachePage', options);
  return (req, res) => {
    handle(engine, req, res, () => {
      const result = handler(req, res);
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          if (!res.headersSent) res.statusCode = 500;
          res.end();
          queueMicrotask(() => {
            throw error;
          });
        });
      }
    });
  };
}

function handle(engine: PageCacheEngine, req: IncomingMessage, res: ServerResponse, run: () => void): void {
  const view: RequestView = {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    encrypted: (req.socket as TLSSocket).encrypted === true,
  };
  engine.lookup(view).then(
    (lookup) => {
      if (lookup.kind === 'serve') {
        send(res, lookup.page);
        return;
      }
      capture(res, lookup.plan);
      engine.runHandler(lookup.plan, run);
    },
    () => run(),
  );
}

function send(res: ServerResponse, page: ServedPage): void {
  res.statusCode = page.status;
  for (const [name, value] of Object.entries(page.headers)) res.setHeader(name, value);
  res.end(page.body);
}

/** Hooks the response's writeHead/write/end to decide at the headers and collect the body. */
function capture(res: ServerResponse, plan: RunPlan): void {
  const limit = plan.engine.options.maxBodyBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  let oversized = false;
  const collect = (chunk: unknown, encoding: unknown) => {
    if (!plan.collecting || oversized || chunk === undefined || chunk === null || typeof chunk === 'function')
      return;
    const buffer =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > limit) {
      oversized = true;
      chunks.length = 0;
    } else {
      chunks.push(buffer);
    }
  };
  const writeHead = res.writeHead;
  const write = res.write;
  const end = res.end;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    // Headers given to writeHead are moved onto the response first, so the decision sees them.
    const last = rest.at(-1);
    if (last !== undefined && typeof last === 'object' && last !== null) {
      rest.pop();
      if (Array.isArray(last)) {
        for (let i = 0; i + 1 < last.length; i += 2) res.appendHeader(String(last[i]), String(last[i + 1]));
      } else {
        for (const [name, value] of Object.entries(last as OutgoingHttpHeaders)) {
          if (value !== undefined) res.setHeader(name, value);
        }
      }
    }
    if (!res.headersSent) {
      const extra = plan.onHeaders(status, plainHeaders(res.getHeaders()));
      for (const [name, value] of Object.entries(extra)) res.setHeader(name, value);
    }
    return (writeHead as (...args: unknown[]) => ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    collect(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    collect(args[0], args[1]);
    const result = (end as (...args: unknown[]) => ServerResponse).apply(this, args);
    const body = oversized ? undefined : Buffer.concat(chunks);
    void plan.finish(res.statusCode, plainHeaders(res.getHeaders()), body);
    return result;
  } as typeof res.end;
  res.once('close', () => plan.release());
}
