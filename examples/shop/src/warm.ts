import type { Cache, WarmEntry, WarmResult } from '@larder/core';
import type { ShopDb } from './db.js';
import { type Lang, PAGE_SIZE, productCard } from './render.js';

/**
 * Warms the product card fragments of the first `pages` list pages in every language, so the
 * first visitors after a deploy do not all render from the database at once.
 */
export async function warmShop(
  db: ShopDb,
  cache: Cache,
  pages = 5,
  onProgress?: (done: number) => void,
): Promise<WarmResult> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM products ORDER BY id LIMIT $1', [
    pages * PAGE_SIZE,
  ]);
  const langs: Lang[] = ['en', 'fr'];
  function* entries(): Generator<WarmEntry> {
    for (const { id } of rows) {
      for (const lang of langs) {
        yield [cache.key('fragment', 'card', id, lang), () => productCard(db, undefined, id, lang)];
      }
    }
  }
  return cache.warm(entries(), { concurrency: 4, ttl: '10m', onProgress: (p) => onProgress?.(p.done) });
}
