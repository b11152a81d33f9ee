import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/errors.js';

const SPECIAL = ":/?#[]@!$&'()*+,;=% ";

/** Every 6-character piece of `secret` (the whole secret when shorter). */
function fragments(secret: string): string[] {
  if (secret.length <= 6) return [secret];
  return Array.from({ length: secret.length - 5 }, (_, i) => secret.slice(i, i + 6));
}

function expectHidden(text: string, secret: string): void {
  for (const piece of [secret, encodeURIComponent(secret), ...fragments(secret)]) {
    expect(text, `"${piece}" of the password shows`).not.toContain(piece);
  }
}

describe('redactUrl', () => {
  it('hides a plain password and keeps the user and host', () => {
    expect(redactUrl('failed: redis://app:hunter2@db:6379/0')).toBe('failed: redis://app:***@db:6379/0');
  });

  it.each([...SPECIAL])('hides a raw password holding %j, keeping the host', (char) => {
    const password = `Xq${char}z9${char}Kw7`;
    const text = `memcached://user:${password}@cache-1:11211 refused`;
    const out = redactUrl(text);
    expectHidden(out, password);
    expect(out).toContain('cache-1:11211 refused');
  });

  it('hides a raw password holding every URL-special character and a space at once', () => {
    const password = `pw${SPECIAL}end`;
    const out = redactUrl(`postgres://app:${password}@db:5432/app failed (ECONNREFUSED)`);
    expectHidden(out, password);
    expect(out).toContain('@db:5432/app failed (ECONNREFUSED)');
  });

  it('hides a percent-encoded password with every special character', () => {
    const password = `pw${SPECIAL}end`;
    const out = redactUrl(`redis://u:${encodeURIComponent(password)}@h:1`);
    expectHidden(out, password);
    expect(out).toBe('redis://u:***@h:1');
  });

  it('hides a user name that carries the secret (no colon) and several URLs on one line', () => {
    expect(redactUrl('redis://tok3n@h:1 and memcached://a:b@m:2')).toBe(
      'redis://***@h:1 and memcached://a:***@m:2',
    );
    expect(redactUrl('redis://tok3n@h:1\nmemcached://a:b@m:2')).toBe(
      'redis://***@h:1\nmemcached://a:***@m:2',
    );
  });

  it('never lets a URL without credentials swallow the text up to the next URL', () => {
    const text =
      'redis://127.0.0.1:6379 requires a password; put it in the URL as redis://:password@host:port';
    expect(redactUrl(text)).toBe(
      'redis://127.0.0.1:6379 requires a password; put it in the URL as redis://:***@host:port',
    );
  });

  it('leaves text without credentials alone', () => {
    const text = 'redis://127.0.0.1:6379/0 did not answer; mail ops at the usual address';
    expect(redactUrl(text)).toBe(text);
  });
});
