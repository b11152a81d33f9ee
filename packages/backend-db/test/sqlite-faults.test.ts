import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CacheUnavailableError, createCache, StoreFullError, StoreTimeoutError } from '@larder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../src/sqlite.js';

const quiet = { warn() {}, error() {} };
const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

describe('SqliteStore under faults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'larder-sqlite-faults-'));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    rmSync(dir, { recursive: true, force: true });
    expect(unhandled).toEqual([]);
  });

  it('another process holds BEGIN IMMEDIATE for 1.5 s: writes fail after busyTimeout, reads go on, the event loop stalls no longer', async () => {
    const path = join(dir, 'busy.db');
    const writer = sqliteStore({ path });
    const cache = createCache({ store: writer, logger: quiet, circuitBreaker: false });
    await cache.set('k', 'v');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require(${JSON.stringify(betterSqlite)}))(${JSON.stringify(path)});
         db.exec('BEGIN IMMEDIATE'); db.prepare("DELETE FROM larder_cache WHERE key = 'nothing'").run();
         process.stdout.write('locked\\n');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1500);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));

    // A store opened while the lock is held still reads (WAL); its lazy CREATE TABLE IF NOT EXISTS needs no lock.
    const reader = createCache({ store: sqliteStore({ path }), logger: quiet, circuitBreaker: false });
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const setTimes: number[] = [];
    const setResults: boolean[] = [];
    const reads: unknown[] = [];
    const started = Date.now();
    while (Date.now() - started < 1000) {
      const t0 = performance.now();
      setResults.push(await cache.set('w', 'x'));
      setTimes.push(performance.now() - t0);
      reads.push(await reader.get('k'), await cache.get('k'));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const typed = await writer.set('w', Buffer.from('x'), 1000).catch((e: unknown) => e);
    delay.disable();
    await exited;
    const maxStall = delay.max / 1e6;
    console.log(
      `sqlite busy: ${setResults.length} sets, all false: ${setResults.every((r) => !r)}, max set ${Math.max(...setTimes).toFixed(0)} ms, max event-loop delay ${maxStall.toFixed(0)} ms`,
    );
    expect(setResults.every((r) => r === false)).toBe(true);
    // busyTimeout (100 ms) plus slack for a loaded 2-core machine (other suites run in parallel);
    // better-sqlite3's default of 5 s would stall for the whole 1.5 s lock.
    expect(Math.max(...setTimes)).toBeLessThan(100 + 150);
    expect(reads.every((r) => r === 'v')).toBe(true);
    expect(typed).toBeInstanceOf(StoreTimeoutError);
    expect(maxStall).toBeLessThan(100 + 150);
    // The lock is gone: writes work again.
    expect(await cache.set('w', 'x')).toBe(true);
    await reader.close();
    await cache.close();
  });

  it('a full disk: set fails with StoreFullError (false under ignoreErrors), reads still work', async (context) => {
    const mount = join(dir, 'full');
    mkdirSync(mount);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mount]);
    if (mounted.status !== 0) {
      context.skip(`cannot mount a tmpfs (needs root): ${mounted.stderr}`);
      return;
    }
    try {
      const store = sqliteStore({ path: join(mount, 'cache.db') });
      const cache = createCache({ store, logger: quiet, circuitBreaker: false });
      const chunk = Buffer.alloc(4096, 7);
      let stored = 0;
      let failure: unknown;
      for (; stored < 1000; stored++) {
        failure = await store.set(`k${stored}`, chunk, 60_000).catch((e: unknown) => e);
        if (failure !== undefined) break;
      }
      expect(failure).toBeInstanceOf(StoreFullError);
      expect(stored).toBeGreaterThan(10);
      expect(await cache.set('more', 'x'.repeat(8000))).toBe(false);
      expect(Buffer.from((await store.get('k0'))!).equals(chunk)).toBe(true);
      expect((await store.getMany(['k1', `k${stored - 1}`])).every((v) => v !== undefined)).toBe(true);
      await cache.close();
    } finally {
      spawnSync('umount', [mount]);
    }
  });

  it('a file that is not a database: a clear typed error on each call, misses through the cache, no crash', async () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(200));
    const store = sqliteStore({ path });
    const cache = createCache({ store, logger: quiet });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheUnavailableError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/not a SQLite database/);
    await cache.close();
  });
});
