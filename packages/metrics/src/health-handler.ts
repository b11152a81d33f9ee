import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Cache, checkOptions, type HealthThresholds } from '@larder/core';

/** Options for `healthHandler`. */
export interface HealthHandlerOptions {
  /** Thresholds passed to `cache.health()`. @default the reference's (hit rate 70 %, memory 80 %, get p99 5 ms) */
  thresholds?: HealthThresholds;
  /** Answer 503 on a warning too, not only on a failure. @default false */
  failOnWarn?: boolean;
}

/**
 * A `node:http` (and Express / Connect) handler for a health endpoint: runs `cache.health()`
 * and answers 200 with the report as JSON, or 503 when the report fails.
 */
export function healthHandler(
  cache: Cache,
  options: HealthHandlerOptions = {},
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  checkOptions('healthHandler', options, { thresholds: 'object', failOnWarn: 'boolean' });
  return async (_request, response) => {
    let status = 503;
    let body: string;
    try {
      const report = await cache.health(options.thresholds);
      const bad = report.status === 'fail' || (options.failOnWarn === true && report.status === 'warn');
      status = bad ? 503 : 200;
      body = JSON.stringify(report);
    } catch (error) {
      body = JSON.stringify({
        status: 'fail',
        checks: [],
        error: (error as Error)?.message ?? String(error),
      });
    }
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    response.end(body);
  };
}
