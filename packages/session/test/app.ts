import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import type { LarderSessionStore } from '../src/index.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
    visits?: number;
  }
}

/** A tiny Express app with login, a visit counter and logout over the given store. */
export async function sessionApp(store: LarderSessionStore, cookie: session.CookieOptions = {}) {
  const web = express();
  web.use(
    session({
      store,
      secret: 'test-secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 60_000, ...cookie },
    }),
  );
  web.get('/login', (req, res, next) => {
    const user = String(req.query.user);
    // A fresh id at login (no fixation): the old one is destroyed.
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = user;
      req.session.save((saveError) => (saveError ? next(saveError) : res.send(`hello ${user}`)));
    });
  });
  web.get('/me', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.send(`${req.session.user ?? 'anon'} ${req.session.visits}`);
  });
  web.get('/peek', (req, res) => res.send(req.session.user ?? 'anon'));
  web.get('/logout', (req, res, next) =>
    req.session.destroy((error) => (error ? next(error) : res.send('bye'))),
  );
  web.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).send(`error: ${error.message}`);
  });
  const server = createServer(web);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, base, close: () => closeServer(server) };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A browser-like client that keeps one cookie jar. */
export function client(base: string) {
  let cookie = '';
  return {
    get cookie() {
      return cookie;
    },
    set cookie(value: string) {
      cookie = value;
    },
    async get(path: string): Promise<{ status: number; text: string; setCookie: string[] }> {
      const res = await fetch(base + path, { headers: cookie ? { cookie } : {} });
      const setCookie = res.headers.getSetCookie();
      const sid = setCookie.find((line) => line.startsWith('connect.sid='));
      if (sid !== undefined) cookie = sid.split(';')[0] as string;
      return { status: res.status, text: await res.text(), setCookie };
    },
  };
}

/** The session id inside a signed `connect.sid=s%3A<id>.<sig>` cookie. */
export function sidOf(cookie: string): string {
  return decodeURIComponent(cookie.slice('connect.sid='.length)).slice(2).split('.')[0] as string;
}
