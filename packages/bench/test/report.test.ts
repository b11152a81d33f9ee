import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatInterval, formatMs, textTable } from '../src/format.js';
import { escapeCell, renderMarkdown } from '../src/report/markdown.js';
import { renderSummary, renderTerminal } from '../src/report/terminal.js';
import { stabilitySummary } from '../src/stability.js';
import { backendResult, sampleResults } from './fixtures.js';

const at = (median: number, low: number, high: number) => ({ median, low, high, coverage: 0.979 });

describe('formatInterval', () => {
  it('prints a ratio with its interval', () => {
    expect(formatInterval(at(2.02, 1.85, 2.2))).toBe('2.02× (1.85–2.20)');
  });

  it('says "no measurable difference" when the interval spans 1.0', () => {
    expect(formatInterval(at(1.03, 0.97, 1.1))).toBe('1.03× (0.97–1.10) no measurable difference');
    expect(formatInterval(at(0.95, 0.9, 1))).toMatch(/no measurable difference$/);
  });
});

describe('summary', () => {
  it("keeps the seed's shape, led by the get ratio and its interval, a Larder and a raw row per backend", () => {
    const text = renderSummary(sampleResults());
    const [title, header, , ...rows] = text.split('\n');
    expect(title).toBe('Summary');
    expect(header).toMatch(
      /^Backend\s+Get ÷ raw \(95 % CI\)\s+Get ops\/s\s+Memory 1M keys\s+Production Stability$/,
    );
    expect(rows[0]).toMatch(
      /^memory · Larder\s+0\.50× \(0\.49–0\.51\)\s+9,600,000\s+429\.2 MiB \(1\.61× raw\)\s+0 errors/,
    );
    expect(rows[1]).toMatch(/^memory · Map of JSON strings\s+1 \(the baseline\)\s+/);
    expect(rows[2]).toMatch(/^sqlite · Larder\s+0\.80×/);
    expect(text).toContain('Memory measured with 100K keys, given per 1M.');
  });

  it('adds a row per peer with its own ratio to raw', () => {
    const results = sampleResults();
    const c = results.backends[0]!.cases[1]!;
    c.sides['lru-cache'] = { ...c.sides.raw!, label: 'lru-cache 11.5.3', opsPerSec: 1 };
    c.ratios['lru-cache'] = { ops: at(1.5, 1.4, 1.6), cpu: at(0.7, 0.6, 0.8) };
    const rows = renderSummary(results).split('\n');
    expect(rows[5]).toMatch(/^memory · lru-cache 11\.5\.3\s+1\.50× \(1\.40–1\.60\)\s+1\s*$/);
  });
});

describe('terminal and markdown', () => {
  it('lists skipped servers with the reason and the fix', () => {
    expect(renderTerminal(sampleResults())).toContain(
      'Skipped redis: redis-server was not found\n  To enable it: apt-get install redis-server',
    );
  });

  it("prints the seed's table beside the run's, labelled as another machine's", () => {
    const md = renderMarkdown(sampleResults());
    expect(md).toContain('## Reference: the seed table (another machine; Django + Python, not this run)');
    expect(md).toContain('| django-redis | 58,000 | 165 MB | Excellent |');
    expect(md).toContain('| Django native | 52,000 | 180 MB | Good |');
    expect(md).toContain('| Database cache | 1,800 | ~2 GB | Poor, fails at 5K ops |');
    expect(md.indexOf('## Summary')).toBeLessThan(md.indexOf('## Reference'));
  });

  it('gives every side of every case its ops/s, CPU per op and both ratios with intervals', () => {
    const md = renderMarkdown(sampleResults());
    expect(md).toContain(
      '| Workload | C | Side | ops/s | ops ÷ raw (95 % CI) | CPU/op | CPU ÷ raw (95 % CI) | p50 / p99 | Notes |',
    );
    expect(md).toMatch(
      /\| get \(hit\) \| 64 \| larder \| 9,600,000 \| 0\.50× \(0\.49–0\.51\) \| 20 µs \| 2\.00× \(2\.00–2\.00\) \|/,
    );
    expect(md).toMatch(/\| get \(hit\) \| 64 \| raw \| [\d,]+ \| {2}\| 10 µs \| {2}\|/);
    expect(md).toContain('- **redis**: redis-server was not found');
    expect(md).toContain('- Node v20.20.2');
  });

  it('flags an interval that covers less than 95 % (fewer than 6 rounds)', () => {
    const results = sampleResults();
    results.backends = [backendResult('memory', 1000, 0.5)];
    const c = results.backends[0]!.cases[0]!;
    c.ratios.larder!.ops.coverage = 0.875;
    expect(renderMarkdown(results)).toContain('interval covers 88 % (few rounds)');
  });

  it('escapes pipes in cells', () => {
    expect(escapeCell('a|b')).toBe('a\\|b');
  });
});

describe('stabilitySummary', () => {
  it('is computed from the figures', () => {
    const burst = { inFlight: 5000, errors: 0, p99Ms: 10, maxMs: 12 };
    expect(stabilitySummary({ burst, faults: [] })).toBe('0 errors at 5K in flight');
    const fault = {
      downMs: 1500,
      ops: 100,
      errorsSurfaced: 0,
      overDeadline: 0,
      hung: 0,
      p99Ms: 500,
      maxMs: 510,
      recovered: true,
    };
    expect(
      stabilitySummary({
        burst,
        faults: [
          { ...fault, fault: 'kill', recoveryMs: 420 },
          { ...fault, fault: 'pause', recoveryMs: 30, errorsSurfaced: 2, hung: 1 },
        ],
      }),
    ).toBe(
      '0 errors at 5K in flight; 2 surfaced under kill/SIGSTOP, 1 hung; recovers in 0.4 s (restart), 30 ms (SIGCONT)',
    );
    expect(
      stabilitySummary({
        burst,
        faults: [{ ...fault, fault: 'kill', recoveryMs: 15_000, recovered: false }],
      }),
    ).toContain('recovers in none within 15.0 s (restart)');
  });
});

describe('format', () => {
  it('formats counts, bytes and latencies', () => {
    expect(formatCount(5000)).toBe('5K');
    expect(formatCount(1_500_000)).toBe('1.5M');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(117_964_800)).toBe('112.5 MiB');
    expect(formatMs(0.0004)).toBe('0.4 µs');
    expect(formatMs(0.045)).toBe('45 µs');
    expect(formatMs(0.45)).toBe('0.45 ms');
    expect(formatMs(1234.4)).toBe('1234 ms');
  });

  it('pads tables and right-aligns numeric columns', () => {
    expect(
      textTable(
        [
          ['a', 'n'],
          ['xyz', '5'],
        ],
        [false, true],
      ),
    ).toBe('a    n\n───  ─\nxyz  5');
  });
});
