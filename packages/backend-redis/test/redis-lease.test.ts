import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRedis } from '@larder/testkit';
import { loopStall, randomPrefix, SLACK_MS } from '@larder/testkit/helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface FactoryCall {
  type: 'factory';
  key: string;
  pid: number;
  at: number;
}
interface Done {
  type: 'done';
  key: string;
  pid: number;
  ok: number;
  errors: string[];
  maxMs: number;
}
type Report = FactoryCall | Done | { type: 'ready' };

const PROCESSES = 4;
const CALLERS = 250;
const FACTORY_MS = 200;

/** Four app processes over one Redis, each with its own cache (no L1), forked from the TypeScript sources. */
describe('getOrSet({ lock }) across processes (Redis)', () => {
  const prefix = randomPrefix('lease');
  const workers: ChildProcess[] = [];
  const reports: Report[] = [];

  beforeAll(async () => {
    const server = await startRedis();
    await Promise.all(
      Array.from({ length: PROCESSES }, async () => {
        const child = fork(fixture('lease-worker.mjs'), [server.url, prefix], {
          execArgv: ['--import', fixture('register-ts.mjs')],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        workers.push(child);
        child.on('message', (report: Report) => reports.push(report));
        await new Promise<void>((resolve, reject) => {
          child.on('message', (report: Report) => report.type === 'ready' && resolve());
          child.once('exit', (code) => reject(new Error(`a worker exited with ${code} before it was ready`)));
        });
      }),
    );
  }, 30_000);

  afterAll(async () => {
    for (const child of workers) {
      if (child.connected) child.send({ type: 'close' });
    }
    await Promise.all(
      workers.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise<void>((resolve) => {
              const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
      ),
    );
  });

  const doneFor = (key: string, count: number, ms: number) =>
    new Promise<Done[]>((resolve, reject) => {
      const until = Date.now() + ms;
      const check = () => {
        const done = reports.filter((r): r is Done => r.type === 'done' && r.key === key);
        if (done.length >= count) resolve(done);
        else if (Date.now() > until)
          reject(new Error(`only ${done.length} of ${count} processes answered for ${key}`));
        else setTimeout(check, 5);
      };
      check();
    });
  const factoryCalls = (key: string) =>
    reports.filter((r): r is FactoryCall => r.type === 'factory' && r.key === key);

  it('4 processes × 250 concurrent callers of one cold key: one factory call, 1,000 values (20 trials)', async () => {
    const counts: number[] = [];
    for (let trial = 0; trial < 20; trial++) {
      const key = `cold-${trial}`;
      for (const child of workers) {
        child.send({ key, callers: CALLERS, factoryMs: FACTORY_MS, lock: { ttl: '2s' } });
      }
      const done = await doneFor(key, PROCESSES, 8000);
      expect(done.flatMap((d) => d.errors)).toEqual([]);
      expect(done.reduce((sum, d) => sum + d.ok, 0)).toBe(PROCESSES * CALLERS);
      counts.push(factoryCalls(key).length);
    }
    const distribution = new Map<number, number>();
    for (const count of counts) distribution.set(count, (distribution.get(count) ?? 0) + 1);
    console.log(
      `lease: factory calls per trial over 20 trials: ${[...distribution]
        .sort(([a], [b]) => a - b)
        .map(([calls, trials]) => `${calls} call(s) × ${trials}`)
        .join(', ')}`,
    );
    expect(counts).toEqual(Array(20).fill(1));
  }, 20_000);

  // A caller whose read misses just before the holder writes, and whose `add` lands just after
  // the holder let the lease go, must read again rather than run the factory a second time.
  it('callers arriving as the holder finishes make no second factory call (30 trials)', async () => {
    const [first, ...late] = workers as [ChildProcess, ...ChildProcess[]];
    let calls = 0;
    for (let trial = 0; trial < 30; trial++) {
      const key = `late-${trial}`;
      first.send({ key, callers: 1, factoryMs: FACTORY_MS, lock: { ttl: '2s' } });
      await new Promise((resolve) => setTimeout(resolve, FACTORY_MS - 4 + (trial % 10)));
      for (const child of late) child.send({ key, callers: 1, factoryMs: FACTORY_MS, lock: { ttl: '2s' } });
      await doneFor(key, PROCESSES, 5000);
      calls += factoryCalls(key).length;
    }
    expect(calls).toBe(30);
  }, 20_000);

  it('the lease holder SIGKILLed mid-factory: another process computes it within the lease ttl + 1 s, nobody waits past lock.wait', async () => {
    const key = 'orphaned';
    const lock = { ttl: '2s', wait: 4000 };
    const [holder, ...others] = workers as [ChildProcess, ...ChildProcess[]];
    // The holder's factory would take a minute: it takes the lease, then dies.
    holder.send({ key, callers: 1, factoryMs: 60_000, lock });
    const until = Date.now() + 5000;
    while (factoryCalls(key).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
    const leased = factoryCalls(key)[0];
    expect(leased?.pid).toBe(holder.pid);
    const stall = loopStall();
    for (const child of others) child.send({ key, callers: CALLERS, factoryMs: FACTORY_MS, lock });
    holder.kill('SIGKILL');
    const done = await doneFor(key, others.length, 10_000);
    const stalled = stall.stop();
    const takeovers = factoryCalls(key).filter((call) => call.pid !== holder.pid);
    const takeoverMs = takeovers[0] === undefined ? Number.NaN : takeovers[0].at - leased!.at;
    console.log(
      `lease: holder killed; another process started the factory ${takeoverMs} ms after the holder took the lease (ttl 2000 ms); takeovers: ${takeovers.length}; slowest caller ${Math.max(...done.map((d) => d.maxMs)).toFixed(0)} ms`,
    );
    expect(takeovers.length).toBeGreaterThanOrEqual(1);
    expect(takeoverMs).toBeLessThanOrEqual(2000 + 1000 + stalled);
    expect(done.flatMap((d) => d.errors)).toEqual([]);
    expect(done.reduce((sum, d) => sum + d.ok, 0)).toBe(others.length * CALLERS);
    // A caller may wait lock.wait, then run the factory itself: nobody waits longer than that.
    for (const d of done) expect(d.maxMs).toBeLessThanOrEqual(4000 + FACTORY_MS + SLACK_MS + stalled);
  }, 20_000);
});
