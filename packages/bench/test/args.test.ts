import { describe, expect, it } from 'vitest';
import { parseCommand, parseList, parseSize, timestampDir, UsageError } from '../src/args.js';
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
    expect(o.workloads).toEqual(['get-hit', 'get-miss', 'set', 'get-many', 'mixed', 'incr']);
    expect(o.concurrency).toEqual([1, 64]);
    expect(o).toMatchObject({
      valueSize: 100,
      durationMs: 600,
      warmupMs: 200,
      rounds: 10,
      maxRounds: 16,
      keys: 100_000,
      memoryKeys: 1_000_000,
    });
  });

  it('uses small sizes and short rounds with --quick', () => {
    const o = run(['--quick']);
    expect(o).toMatchObject({
      quick: true,
      keys: 10_000,
      memoryKeys: 100_000,
      durationMs: 100,
      warmupMs: 20,
      rounds: 3,
      maxRounds: 3,
    });
  });

  it('waits for a slowed machine only when --speed-wait asks for it', () => {
    expect(run([])).toMatchObject({ speedWaitMs: 0 });
    expect(run(['--quick'])).toMatchObject({ speedWaitMs: 0 });
    expect(run(['--speed-wait', '5'])).toMatchObject({ speedWaitMs: 5_000 });
  });

  it('measures in 5 fresh processes of 2 rounds by default, 1 in --quick, as many as --processes says', () => {
    expect(run([])).toMatchObject({ processes: 5, rounds: 10, maxRounds: 16 });
    expect(run(['--quick'])).toMatchObject({ processes: 1 });
    expect(run(['--processes', '3'])).toMatchObject({ processes: 3, rounds: 10 });
    // Fewer rounds, fewer processes by default: each keeps two rounds.
    expect(run(['--rounds', '6'])).toMatchObject({ processes: 3 });
    expect(run(['--rounds', '3'])).toMatchObject({ processes: 1 });
  });

  it('gives the embedded backends twice the turns by default, once in --quick, as many as --embedded-weight says', () => {
    expect(run([])).toMatchObject({ embeddedWeight: 2 });
    expect(run(['--quick'])).toMatchObject({ embeddedWeight: 1 });
    expect(run(['--embedded-weight', '3'])).toMatchObject({ embeddedWeight: 3 });
  });

  it('allows three top-up processes by default; --max-rounds bounds them, never below --rounds', () => {
    // 20 rounds in 5 processes of 4: three more processes' shares.
    expect(run(['--rounds', '20']).maxRounds).toBe(32);
    expect(run(['--rounds', '6']).maxRounds).toBe(12);
    expect(run(['--max-rounds', '10'])).toMatchObject({ rounds: 10, maxRounds: 10 });
    expect(run(['--rounds', '4', '--max-rounds', '9'])).toMatchObject({ rounds: 4, maxRounds: 9 });
    expect(run(['--quick', '--max-rounds', '8'])).toMatchObject({ rounds: 3, maxRounds: 8 });
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
    [['--rounds', '2'], /--rounds 2 is out of range; use 3/],
    [['--rounds', '6', '--max-rounds', '5'], /--max-rounds 5 is fewer than --rounds 6; give at least 6/],
    [['--duration=-5'], /--duration -5 is out of range/],
    [['--speed-wait=-1'], /--speed-wait -1 is out of range/],
    [
      ['--processes', '6', '--rounds', '5'],
      /--processes 6 is more than --rounds 5; every process needs at least one round/,
    ],
    [['--processes', '0'], /--processes 0 is out of range/],
    [['--embedded-weight', '0'], /--embedded-weight 0 is out of range; use 1/],
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

  it('returns help and validate commands without running', () => {
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['--validate', 'r.json'])).toEqual({ kind: 'validate', file: 'r.json' });
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
