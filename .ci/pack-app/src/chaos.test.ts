// A plain node:test file: ChaosStore loads from @larder/core/chaos with no vitest installed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCache, MemoryStore } from '@larder/core';
import { ChaosStore } from '@larder/core/chaos';

test('a cache over a failing store degrades to misses', async () => {
  const store = new ChaosStore(new MemoryStore());
  const cache = createCache({ store, logger: { warn() {}, error() {} } });
  await cache.set('k', 1);
  store.mode = 'throw';
  assert.equal(await cache.get('k'), undefined);
  store.mode = 'pass';
  assert.equal(await cache.get('k'), 1);
  await cache.close();
});
