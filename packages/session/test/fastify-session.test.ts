import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { createCache } from '@larder/core';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { LarderSessionStore } from '../src/index.js';

describe('LarderSessionStore in @fastify/session', () => {
  it('keeps a logged-in user across requests and forgets them at logout', async () => {
    const store = new LarderSessionStore({ cache: createCache({ ignoreErrors: false }) });
    const app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, {
      secret: 'a-secret-that-is-at-least-32-characters-long',
      store,
      cookie: { secure: false, maxAge: 60_000 },
      saveUninitialized: false,
    });
    app.get('/login', async (request) => {
      request.session.set('user' as never, 'ann' as never);
      return 'ok';
    });
    app.get('/me', async (request) => String(request.session.get('user' as never) ?? 'anon'));
    app.get('/logout', async (request) => {
      await request.session.destroy();
      return 'bye';
    });
    try {
      const login = await app.inject({ method: 'GET', url: '/login' });
      const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
      expect((await app.inject({ method: 'GET', url: '/me', headers: { cookie } })).body).toBe('ann');
      expect(await new Promise((resolve) => store.length((_e, n) => resolve(n)))).toBe(1);
      await app.inject({ method: 'GET', url: '/logout', headers: { cookie } });
      expect((await app.inject({ method: 'GET', url: '/me', headers: { cookie } })).body).toBe('anon');
      expect(await new Promise((resolve) => store.length((_e, n) => resolve(n)))).toBe(0);
    } finally {
      await app.close();
    }
  });
});
