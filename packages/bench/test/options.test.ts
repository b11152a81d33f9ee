import { describe, expect, it } from 'vitest';
import { parseCommand, parseList, parseSize, timestampDir, UsageError } from '../src/options.js';
import type { BenchOptions } from '../src/types.js';

function run(argv: string[]): BenchOptions {
  const command = parseCommand(argv);
  if (command.kind !== 'run') throw new Error(`expected a run, got ${command.kind}`);
  return command.options;
}

describe('parseCommand', () => {
  it('defaults to every backend and workload at concurrency 1 and 64', () => {
    const o = run([]);
    expect(o.backends).toEqual(['memory', 'sqlite', 'redis', 'memcached', 'postgres']);
    expect(o.backendsExplicit).toBe(false);
    expect(o.workloads).toEqual([
      'get-hit',
      'get-hot',
      'get-miss',
      'set',
      'set-full',
      'get-many',
      'mixed',
      'incr',
    ]);
    expect(o.concurrency).toEqual([1, 64]);
    expect(o).toMatchObject({
      valueSize: 100,
      durationMs: 60,
      warmupMs: 100,
      rounds: 16,
      keys: 50_000,
      memoryKeys: 200_000,
    });
  });

  it('uses small sizes and short rounds with --quick', () => {
    const o = run(['--quick']);
    expect(o).toMatchObject({
      quick: true,
      keys: 5_000,
      memoryKeys: 20_000,
      durationMs: 20,
      warmupMs: 10,
      rounds: 6,
    });
  });

  it('has no flag left of the noise machinery', () => {
    for (const flag of ['--speed-wait', '--max-rounds', '--embedded-weight', '--processes']) {
      expect(() => run([flag, '1'])).toThrow(UsageError);
      expect(() => run([flag, '1'])).toThrow(`Unknown option '${flag}'`);
    }
  });

  it('turns on the peers with --peers only', () => {
    expect(run([]).peers).toBe(false);
    expect(run(['--peers']).peers).toBe(true);
  });

  it('keeps the canonical backend order and marks an explicit choice', () => {
    const o = run(['--backends', 'sqlite, MEMORY']);
    expect(o.backends).toEqual(['memory', 'sqlite']);
    expect(o.backendsExplicit).toBe(true);
  });

  it('rejects an unknown backend and names the known ones', () => {
    expect(() => run(['--backends', 'memory,mongo'])).toThrow(/unknown "mongo"; choose from memory, sqlite/);
  });

  it.each([
    [['--concurrency', '0'], /--concurrency 0 is out of range/],
    [['--concurrency', '1,x'], /not a whole number/],
    [['--concurrency', '20000'], /out of range/],
    [['--rounds', '1'], /--rounds 1 is out of range; use 2/],
    [['--duration=-5'], /--duration -5 is out of range/],
    [['--duration'], /argument missing/],
    [['--value-size', '2MiB'], /outside 100 bytes to 512 KiB/],
    [['--value-size', '10'], /outside 100 bytes/],
    [['--value-size', 'big'], /not a size/],
    [['--memory-keys', '5'], /out of range/],
    [['--keys', '10000000', '--value-size', '100KiB'], /more than 64 MiB per side/],
    [['--skip', 'everything'], /unknown "everything"/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['extra'], /unexpected argument "extra"/],
  ])('rejects %j', (argv, message) => {
    expect(() => run(argv)).toThrow(UsageError);
    expect(() => run(argv)).toThrow(message);
  });

  it('sorts and dedupes concurrencies', () => {
    expect(run(['--concurrency', '64,1,64,8']).concurrency).toEqual([1, 8, 64]);
  });

  it('shrinks the key sets for big values (the memory figure is then extrapolated)', () => {
    const o = run(['--value-size', '100KiB']);
    expect(o.valueSize).toBe(102_400);
    expect(o.keys).toBe(655);
    expect(o.memoryKeys).toBe(5242);
  });

  it('returns help and compare commands without running', () => {
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['--compare', 'a.json', 'b.json'])).toEqual({
      kind: 'compare',
      files: ['a.json', 'b.json'],
    });
  });

  it('asks for exactly two files to compare', () => {
    expect(() => parseCommand(['--compare', 'a.json'])).toThrow(/two results files/);
    expect(() => parseCommand(['--compare', 'a.json', 'b.json', 'c.json'])).toThrow(/two results files/);
  });
});

describe('parseSize', () => {
  it.each([
    ['100', 100],
    ['1KiB', 1024],
    ['1k', 1024],
    ['100KiB', 102_400],
    ['0.5MiB', 524_288],
    ['256 b', 256],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
});

describe('parseList', () => {
  it('rejects an empty list', () => {
    expect(() => parseList('--x', ' , ', ['a'])).toThrow(/--x is empty/);
  });
});

describe('timestampDir', () => {
  it('is sortable and has no colons', () => {
    expect(timestampDir(new Date('2025-01-31T10:20:30.456Z'))).toBe('2025-01-31T10-20-30');
  });
});
