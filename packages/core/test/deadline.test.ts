import { describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import { loopStall, SLACK_MS, sleep } from '../../testkit/src/helpers.js';
import { DeadlineQueue } from '../src/deadline.js';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('DeadlineQueue', () => {
  it('rejects calls that outlive the timeout, in order, and passes the others through', async () => {
    const queue = new DeadlineQueue(50, (operation, key) => new Error(`${operation} ${key} timed out`));
    const never = new Promise<string>(() => {});
    const stall = loopStall();
    const started = performance.now();
    const results = await Promise.allSettled([
      queue.run(never, 'get', 'a'),
      queue.run(Promise.resolve('fast'), 'get', 'b'),
      queue.run(
        sleep(10).then(() => 'slow-but-in-time'),
        'get',
        'c',
      ),
      queue.run(Promise.reject(new Error('boom')), 'get', 'd'),
      queue.run(never, 'set', 'e'),
    ]);
    const elapsed = performance.now() - started;
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'get a timed out',
      'fast',
      'slow-but-in-time',
      'boom',
      'set e timed out',
    ]);
    expect(elapsed).toBeGreaterThanOrEqual(49);
    expect(elapsed).toBeLessThan(50 + SLACK_MS + stall.stop());
  });

  it('does not keep the process alive once nothing is pending', async () => {
    const before = timers();
    const queue = new DeadlineQueue(10_000, () => new Error('timeout'));
    let release!: () => void;
    const pending = queue.run(new Promise<void>((resolve) => (release = resolve)), 'get', 'k');
    expect(timers()).toBe(before + 1);
    release();
    await pending;
    expect(timers()).toBe(before);
    await queue.run(Promise.resolve(1), 'get', 'k');
    expect(timers()).toBe(before);
  });
});
