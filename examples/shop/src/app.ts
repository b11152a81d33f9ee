import type { Cache } from '@larder/core';
import { neverCache, pageCache, varyOn } from '@larder/http';
import type { LarderSessionStore } from '@larder/session';
import express from 'express';
import session from 'express-session';
import type { ShopDb } from './db.js';
import { langOf, listPage } from './render.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
    cart?: number[];
  }
}

/** What the shop runs on. */
export interface ShopOptions {
  db: ShopDb;
  /** The cache for pages and fragments; without one, every page is rendered from the database. */
  cache?: Cache;
  /** Where sessions live. */
  sessions: LarderSessionStore;
  /** Signs the session cookie. */
  secret: string;
  /** Serve the list page through the page cache (with `cache` set). @default true */
  pageCache?: boolean;
}

/**
 * The shop: a product list served through the page cache (varying on Accept-Language, the same
 * for every user, so `shared`), product cards as fragments, and the per-user parts (greeting,
 * cart) on `/me`, read from the session and never cached.
 */
export function createShop(options: ShopOptions): express.Express {
  const { db, cache } = options;
  const app = express();
  app.disable('x-powered-by');
  // Sessions only where a user is needed: the list page neither reads nor writes one.
  const withSession = session({
    store: options.sessions,
    secret: options.secret,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 24 * 3600_000, sameSite: 'lax', httpOnly: true },
  });
  const form = express.urlencoded({ extended: false });

  const list: express.RequestHandler = async (req, res, next) => {
    try {
      const page = Math.max(1, Math.min(500, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
      const lang = langOf(req.headers['accept-language']);
      const html = await listPage(db, cache, page, lang);
      varyOn(res, 'Accept-Language');
      // Shared caches keep it 5 minutes; browsers revalidate (the page cache answers with 304).
      res.setHeader('Cache-Control', 'public, max-age=0, s-maxage=300');
      res.type('html').send(html);
    } catch (error) {
      next(error);
    }
  };
  if (cache === undefined || options.pageCache === false) app.get('/products', list);
  else app.get('/products', pageCache({ cache, vary: ['Accept-Language'], shared: true, ttl: '5m' }), list);
  app.get('/', (_req, res) => res.redirect('/products'));

  app.get('/me', withSession, (req, res) => {
    neverCache(res);
    res.json({ user: req.session.user ?? null, cart: (req.session.cart ?? []).map((id) => `Product ${id}`) });
  });
  app.get('/login', (_req, res) => {
    neverCache(res);
    res.type('html').send(`<!doctype html><form method="post" action="/login">
<input name="user" autocomplete="username"><button id="login">Log in</button></form>`);
  });
  app.post('/login', form, withSession, (req, res, next) => {
    const user = String(req.body?.user ?? '')
      .trim()
      .slice(0, 40);
    if (user === '') return void res.status(400).send('a user name is required');
    // A fresh session id at login, so an id planted before it is worth nothing.
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = user;
      req.session.cart = [];
      req.session.save((saveError) => (saveError ? next(saveError) : res.redirect(303, '/products')));
    });
  });
  app.post('/cart', form, withSession, (req, res, next) => {
    if (req.session.user === undefined) return void res.status(401).send('log in first');
    const id = Number.parseInt(String(req.body?.id), 10);
    if (Number.isInteger(id) && id > 0) req.session.cart = [...(req.session.cart ?? []), id];
    req.session.save((error) => (error ? next(error) : res.redirect(303, '/products')));
  });
  app.post('/logout', withSession, (req, res, next) => {
    req.session.destroy((error) =>
      error ? next(error) : res.clearCookie('connect.sid').redirect(303, '/products'),
    );
  });
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    neverCache(res);
    res.status(500).type('text').send(`something went wrong: ${error.message}`);
  });
  return app;
}
