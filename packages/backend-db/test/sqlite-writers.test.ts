import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../src/sqlite.js';

const PROCESSES = 10;
const EACH = 1000;
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface Report {
  errors: Record<string, number>;
}

describe('SqliteStore with many writer processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'larder-sqlite-writers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${PROCESSES} processes × ${EACH} incr on one file end at exactly ${PROCESSES * EACH}, no call failing`, async () => {
    const path = join(dir, 'counter.db');
    const setup = sqliteStore({ path });
    await setup.createCacheTable();
    await setup.close();
    const start = () =>
      fork(fixture('sqlite-incr-worker.mjs'), [path, String(EACH)], {
        execArgv: ['--import', fixture('register-ts.mjs')],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
    const message = (child: ReturnType<typeof start>) =>
      new Promise<Report & { ready?: boolean }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as Report));
        child.once('exit', (code) => reject(new Error(`a writer exited with ${code} before reporting`)));
      });
    // The first child transpiles the sources once; the others start from its cache.
    const first = start();
    await message(first);
    const children = [first, ...Array.from({ length: PROCESSES - 1 }, start)];
    await Promise.all(children.slice(1).map(message));
    const reports = children.map(message);
    for (const child of children) child.send('go');
    const started = performance.now();
    const done = await Promise.all(reports);
    const ms = performance.now() - started;
    const errors: Record<string, number> = {};
    for (const report of done) {
      for (const [code, n] of Object.entries(report.errors)) errors[code] = (errors[code] ?? 0) + n;
    }
    const store = sqliteStore({ path });
    const total = Number(Buffer.from((await store.get('counter'))!).toString());
    await store.close();
    console.log(`sqlite writers: counter ${total}, errors ${JSON.stringify(errors)}, ${ms.toFixed(0)} ms`);
    expect(errors).toEqual({});
    expect(total).toBe(PROCESSES * EACH);
  }, 120_000);
});
