import { fileURLToPath } from 'node:url';
import type { Cache } from '@larder/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadWarmModule, warm } from '../src/index.js';
import { ensureBuilt, larder } from './bin.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

beforeAll(() => ensureBuilt(), 120_000);

describe('larder warm', () => {
  it('stores every entry of the module with bounded concurrency and reports progress', async () => {
    const module = await loadWarmModule(fixture('warm-module.mjs'));
    const progress: number[] = [];
    const report = await warm(module, { concurrency: 4, onProgress: (done) => progress.push(done) });
    expect(report).toMatchObject({ total: 250, written: 250, failed: 0, skipped: 0 });
    expect(progress.at(-1)).toBe(250);
    const cache = module.cache as Cache;
    expect(await cache.get('user:7')).toEqual({ id: 7 });
    expect(await cache.ttl('user:7')).toBeGreaterThan(9 * 60_000);
  });

  it("accepts cache.warm's [key, loader] pairs and counts loaders that fail or return nothing", async () => {
    const module = await loadWarmModule(fixture('warm-module.mjs'));
    const report = await warm({
      cache: module.cache,
      entries: [
        ['a', () => 1],
        ['b', async () => 'two'],
        ['c', () => undefined],
        [
          'd',
          () => {
            throw new Error('source down');
          },
        ],
      ],
    });
    expect(report).toMatchObject({ total: 4, written: 2, skipped: 1, failed: 1 });
    expect(await (module.cache as Cache).get('b')).toBe('two');
  });

  it('runs as a bin: prints the report and exits 0; a module without a cache exits 2 in one line', async () => {
    const run = await larder(['warm', fixture('warm-module.mjs'), '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ total: 250, written: 250, failed: 0 });
    expect(run.stderr).toMatch(/250\/250/);
    const bad = await larder(['warm', fixture('../bin.ts')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^larder: could not import|must export `cache`/);
  });
});
