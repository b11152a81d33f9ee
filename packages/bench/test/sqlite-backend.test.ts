import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteBackend } from '../src/backends/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'larder-bench-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const walBytes = (file: string) => statSync(join(dir, `${file}-wal`)).size;

describe('sqlite bench backend', () => {
  // Each incr commits once and appends a 4 KiB page to the log. A statement left unfinished
  // (RETURNING read with `.get()`) stops every checkpoint from resetting it: 5,000 commits
  // then leave a log of about 20 MB, where a reset log stays near the 1,000-page autocheckpoint.
  it('keeps the write-ahead log bounded under incr, on both sides', async () => {
    const backend = await createSqliteBackend(dir);
    try {
      for (let i = 0; i < 5000; i++) {
        const key = `counter:${i & 63}`;
        expect(typeof (await backend.raw.incr!(key))).toBe('number');
        expect(typeof (await backend.larder.incr(key))).toBe('number');
      }
      expect(await backend.raw.incr!('counter:0')).toBe(Math.ceil(5000 / 64) + 1);
      expect(walBytes('raw.db')).toBeLessThan(8 * 1024 * 1024);
      expect(walBytes('larder.db')).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await backend.teardown();
    }
  });
});
