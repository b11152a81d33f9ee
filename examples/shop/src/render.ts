import type { Cache } from '@larder/core';
import type { ShopDb } from './db.js';

/** The page size of the product list. */
export const PAGE_SIZE = 24;

const words = {
  en: { title: 'Products', price: 'Price', stock: 'in stock', rating: 'rating', add: 'Add to cart' },
  fr: { title: 'Produits', price: 'Prix', stock: 'en stock', rating: 'note', add: 'Ajouter au panier' },
} as const;
export type Lang = keyof typeof words;

/** The first language of an `Accept-Language` header the shop speaks. */
export function langOf(header: string | undefined): Lang {
  return /^\s*fr/i.test(header ?? '') ? 'fr' : 'en';
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * One product card: two queries (the product with its category, its rating). With a cache it
 * is a fragment: `getOrSet` on `key('fragment', 'card', id, lang)`.
 */
export async function productCard(
  db: ShopDb,
  cache: Cache | undefined,
  id: number,
  lang: Lang,
): Promise<string> {
  const render = async () => {
    const { rows } = await db.query<{ name: string; price_cents: number; stock: number; category: string }>(
      `SELECT p.name, p.price_cents, p.stock, c.name AS category
       FROM products p JOIN categories c ON c.id = p.category_id WHERE p.id = $1`,
      [id],
    );
    const { rows: rating } = await db.query<{ avg: string | null; n: string }>(
      'SELECT avg(stars)::numeric(3,1) AS avg, count(*) AS n FROM reviews WHERE product_id = $1',
      [id],
    );
    const product = rows[0];
    if (product === undefined) return '';
    const w = words[lang];
    return `<li class="card" data-id="${id}"><h3>${escapeHtml(product.name)}</h3><p>${escapeHtml(product.category)}</p>
<p>${w.price}: ${(product.price_cents / 100).toFixed(2)} · ${product.stock} ${w.stock} · ${w.rating} ${rating[0]?.avg ?? '-'} (${rating[0]?.n ?? 0})</p>
<form method="post" action="/cart"><input type="hidden" name="id" value="${id}"><button>${w.add}</button></form></li>`;
  };
  return cache === undefined
    ? render()
    : cache.getOrSet(fragmentKey(cache, id, lang), render, { ttl: '10m' });
}

/** The cache key of one product card fragment; delete it to re-render that card. */
export function fragmentKey(cache: Cache, id: number, lang: Lang): string {
  return cache.key('fragment', 'card', id, lang);
}

/** The product list page: dozens of queries uncached (the page's ids, the categories, two per card). */
export async function listPage(
  db: ShopDb,
  cache: Cache | undefined,
  page: number,
  lang: Lang,
): Promise<string> {
  const { rows: ids } = await db.query<{ id: number }>(
    'SELECT id FROM products ORDER BY id LIMIT $1 OFFSET $2',
    [PAGE_SIZE, (page - 1) * PAGE_SIZE],
  );
  const { rows: categories } = await db.query<{ id: number; name: string }>(
    'SELECT id, name FROM categories ORDER BY id',
  );
  const cards: string[] = [];
  for (const { id } of ids) cards.push(await productCard(db, cache, id, lang));
  const w = words[lang];
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>${w.title}</title></head><body>
<header><div id="me">…</div><form method="post" action="/logout"><button id="logout">Log out</button></form><nav>${categories.map((c) => `<a href="#c${c.id}">${escapeHtml(c.name)}</a>`).join(' ')}</nav></header>
<h1>${w.title} · page ${page}</h1><ul id="products">${cards.join('\n')}</ul>
<script>
fetch('/me', { credentials: 'same-origin' }).then((r) => r.json()).then((me) => {
  const box = document.getElementById('me');
  box.textContent = me.user ? 'Hello ' + me.user + ' · cart: ' + (me.cart.length ? me.cart.join(', ') : 'empty') : 'Not logged in';
  box.dataset.ready = '1';
});
</script></body></html>`;
}
