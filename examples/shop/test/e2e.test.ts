import { existsSync } from 'node:fs';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { randomPrefix } from '@larder/testkit/helpers';
import { serverInfo } from '@larder/testkit/vitest';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema, seed } from '../src/db.js';
import { type RunningShop, startShop } from '../src/wiring.js';

// Debian's chromium; Playwright's own browser download cannot work on this kind of machine.
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const postgres = serverInfo('postgres');
const redisInfo = serverInfo('redis');
const ready = hasChromium && !('unavailable' in postgres) && !('unavailable' in redisInfo);

if (!hasChromium && process.env.CI === 'true') {
  describe('shop end to end in Chromium', () => {
    it('needs Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    });
  });
}

let browser: Browser | undefined;
let redis: RedisServerHandle | undefined;
let shop: RunningShop | undefined;
const schema = randomPrefix('shop_e2e_');
afterAll(async () => {
  await browser?.close();
  await shop?.close();
  await redis?.stop();
  if (!('unavailable' in postgres)) await dropSchema(postgres.url, schema).catch(() => {});
});

/** Logs a user in through the login form and waits for the greeting on the product list. */
async function login(page: Page, base: string, user: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name=user]', user);
  await Promise.all([page.waitForURL(`${base}/products`), page.click('#login')]);
}

/** The greeting box once the page's script filled it in from /me. */
async function greeting(page: Page): Promise<string> {
  await page.waitForSelector('#me[data-ready="1"]', { timeout: 5000 });
  return (await page.textContent('#me')) ?? '';
}

/** Loads a list page and returns its X-Cache verdict, status and heading. */
async function list(page: Page, base: string, n?: number) {
  const response = await page.goto(n === undefined ? `${base}/products` : `${base}/products?page=${n}`);
  return {
    status: response?.status() ?? 0,
    xCache: (await response?.allHeaders())?.['x-cache'],
    heading: (await page.textContent('h1')) ?? '',
  };
}

describe.skipIf(!ready)('shop end to end in Chromium: two users, cached pages, sessions that last', () => {
  it('keeps each user to their own cart and greeting while the list page is a cache hit; sessions survive restarts; logout ends one', async () => {
    if ('unavailable' in postgres) return;
    await seed(postgres.url, schema, 10_000);
    redis = await startRedis({ useEnv: false });
    const config = { databaseUrl: postgres.url, redisUrl: redis.url, schema, durable: true, prefix: 'e2e' };
    shop = await startShop(config);
    const base = shop.url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const contexts: BrowserContext[] = [
      await browser.newContext({ locale: 'en-US' }),
      await browser.newContext({ locale: 'fr-FR' }),
    ];
    const [ann, bob] = (await Promise.all(contexts.map((context) => context.newPage()))) as [Page, Page];

    await login(ann, base, 'ann');
    await login(bob, base, 'bob');
    expect(await greeting(ann)).toBe('Hello ann · cart: empty');
    expect(await greeting(bob)).toBe('Hello bob · cart: empty');

    // Each adds a different product to the cart from a card on the list page.
    await Promise.all([ann.waitForURL(`${base}/products`), ann.click('li[data-id="1"] button')]);
    await Promise.all([bob.waitForURL(`${base}/products`), bob.click('li[data-id="2"] button')]);
    expect(await greeting(ann)).toBe('Hello ann · cart: Product 1');
    expect(await greeting(bob)).toBe('Hello bob · cart: Product 2');

    // The list page comes from the cache, one variant per language, for logged-in users.
    const annPage = await list(ann, base);
    const bobPage = await list(bob, base);
    expect(annPage).toMatchObject({ xCache: 'HIT', heading: 'Products · page 1' });
    expect(bobPage).toMatchObject({ xCache: 'HIT', heading: 'Produits · page 1' });
    expect(await greeting(ann)).toBe('Hello ann · cart: Product 1');
    expect(await greeting(bob)).toBe('Hello bob · cart: Product 2');

    // An app restart (new process state, same Redis): both stay logged in.
    await shop.close();
    shop = await startShop({ ...config, port: shop.port });
    await list(ann, base);
    await list(bob, base);
    expect(await greeting(ann)).toBe('Hello ann · cart: Product 1');
    expect(await greeting(bob)).toBe('Hello bob · cart: Product 2');

    // Redis dies: pages keep coming (uncached), sessions are read from Postgres.
    await redis.kill();
    const during = await list(bob, base, 2);
    expect(during.status).toBe(200);
    expect(during.heading).toBe('Produits · page 2');
    expect(await greeting(bob)).toBe('Hello bob · cart: Product 2');
    // ...and comes back empty: with the durable copy, no one was logged out.
    await redis.restart();
    await list(ann, base);
    expect(await greeting(ann)).toBe('Hello ann · cart: Product 1');
    await list(bob, base);
    expect(await greeting(bob)).toBe('Hello bob · cart: Product 2');

    // Logout ends ann's session only.
    await Promise.all([ann.waitForURL(`${base}/products`), ann.click('#logout')]);
    expect(await greeting(ann)).toBe('Not logged in');
    await list(bob, base);
    expect(await greeting(bob)).toBe('Hello bob · cart: Product 2');
  }, 60_000);
});
