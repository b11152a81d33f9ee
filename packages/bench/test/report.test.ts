import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatMs, textTable } from '../src/format.js';
import { escapeCell, renderMarkdown } from '../src/report/markdown.js';
import { summaryRows } from '../src/report/summary.js';
import { escapeXml, renderSvg } from '../src/report/svg.js';
import { renderSummary, renderTerminal } from '../src/report/terminal.js';
import { stabilitySummary } from '../src/scenarios/stability.js';
import type { CaseResult } from '../src/types.js';
import { sampleResults } from './fixtures.js';

describe('summary rows', () => {
  it('gives a Larder row and a raw row per backend, in numbers, at the highest concurrency', () => {
    const rows = summaryRows(sampleResults());
    expect(rows.map((r) => `${r.backend}/${r.side}`)).toEqual([
      'memory/larder',
      'memory/raw',
      'sqlite/larder',
      'sqlite/raw',
    ]);
    expect(rows[0]).toMatchObject({ getOpsPerSec: 200_000 * 64, getRatio: 0.5, memoryPer1M: 450_000_000 });
    expect(rows[1]).toMatchObject({
      label: 'Map of JSON strings',
      getOpsPerSec: 400_000 * 64,
      getRatio: undefined,
    });
  });
});

describe('terminal and markdown', () => {
  it('prints the summary shaped Backend | Get ops/s | Memory 1M keys | Stability', () => {
    const text = renderSummary(sampleResults());
    const [title, header] = text.split('\n');
    expect(title).toBe('Summary');
    expect(header).toMatch(/^Backend\s+Get ops\/s \(c=64\)\s+Memory 1M keys\s+Stability$/);
    expect(text).toContain('memory · Larder');
    expect(text).toContain('12,800,000 (0.50× raw)');
    expect(text).toContain('429.2 MiB* (1.61× raw)');
    expect(text).toContain('* memory extrapolated from 100K keys to 1M');
  });

  it('lists skipped servers with the reason and the fix', () => {
    const text = renderTerminal(sampleResults());
    expect(text).toContain(
      'Skipped redis: redis-server was not found\n  To enable it: apt-get install redis-server',
    );
  });

  it('writes Markdown tables with aligned numeric columns and the environment', () => {
    const md = renderMarkdown(sampleResults());
    expect(md).toContain(
      '| Backend | Get ops/s (c=64) | Memory 1M keys | Stability |\n| --- | ---: | ---: | --- |',
    );
    expect(md).toContain('### memory (embedded; raw = Map of JSON strings)');
    expect(md).toContain('| get (hit) | 64 | 12,800,000 [11,520,000–14,080,000] |');
    expect(md).toContain('- **redis**: redis-server was not found');
    expect(md).toContain('- Node v20.20.2');
    expect(md).toContain('\\* memory extrapolated');
  });

  it('notes the rounds a slowed machine cost a case, and the speed gauge of the run', () => {
    const results = sampleResults();
    const c = results.backends[0]!.cases[1]!;
    c.larder.slowRounds = 2;
    c.larder.medianError = 0.031;
    results.speedGauge = { cpus: ['0', '1'], best: [95_000, 97_500], waitedSeconds: 12.4 };
    results.options.speedWaitMs = 20_000;
    const md = renderMarkdown(results);
    expect(md).toMatch(
      /\| get \(hit\) \| 64 \|.*\| 3 rounds, 2 on a slowed machine left out \(median ±3\.1 %\) \|/,
    );
    expect(md).toContain(
      '- Speed gauge (random lookups in a Map of 200,000 keys, one probe per CPU): best (90th percentile) 95,000 / 97,500 lookups/ms on CPUs 0, 1; rounds timed while a CPU read below 80 % of its best are left out of medians; waited 12 s for full speed (up to 20 s per pass)',
    );
  });

  it("gives the yardstick's median and stops when the run timed it, and says nothing of it otherwise", () => {
    const results = sampleResults();
    expect(renderMarkdown(results)).not.toContain('Yardstick');
    results.yardstick = {
      lookupsPerMs: 4321.6,
      stops: [
        { at: 1, speed: 4300 },
        { at: 2, speed: 4321.6 },
        { at: 3, speed: 4400 },
      ],
    };
    expect(renderMarkdown(results)).toContain(
      "- Yardstick (the gauge's lookup job, timed between the workload turns while everything else sat idle): median 4,322 lookups/ms over 3 stops;",
    );
  });

  it('says what the embedded backends got, and notes extra rounds against their own count', () => {
    const results = sampleResults();
    Object.assign(results.options, {
      quick: false,
      rounds: 4,
      processes: 2,
      maxRounds: 6,
      embeddedWeight: 2,
    });
    const [hit1, hit64] = results.backends[0]!.cases as [CaseResult, CaseResult];
    // Eight rounds are an embedded backend's own count; ten mean a top-up.
    for (const side of [hit1.larder, hit1.raw]) side.rounds = Array(8).fill(side.rounds[0]);
    for (const side of [hit64.larder, hit64.raw]) side.rounds = Array(10).fill(side.rounds[0]);
    const md = renderMarkdown(results);
    expect(md).toContain(
      "4 rounds, 2 in each of 2 fresh processes (up to 6 where a median was uncertain by more than 4 %); the embedded backends 8 rounds in 4 processes (up to 10), 2 turns for each of a server's of 100 ms",
    );
    const memory = md.slice(md.indexOf('### memory'), md.indexOf('### sqlite'));
    expect(memory).toContain('| get (hit) | 1 | 200,000 [180,000–220,000] |');
    expect(memory).toMatch(/\| get \(hit\) \| 1 \| .* \| 0\.10 ms \/ 0\.90 ms \| {2}\|\n/);
    expect(memory).toMatch(/\| get \(hit\) \| 64 \|.*\| 10 rounds \(median ±2\.0 %\) \|/);
  });

  it('escapes pipes in cells', () => {
    expect(escapeCell('a|b\nc')).toBe('a\\|b c');
  });
});

describe('svg', () => {
  it('draws a Larder bar and a raw bar per backend in each panel, as well-formed SVG', () => {
    const svg = renderSvg(sampleResults());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // 2 backends × 2 sides × 2 panels bars, plus background and legend squares.
    expect(svg.match(/<rect [^>]*fill="#2f6fdf"><title>/g)).toHaveLength(4);
    expect(svg.match(/<rect [^>]*fill="#a3a9b3"><title>/g)).toHaveLength(4);
    expect(svg).toContain('get ops/s (hit, c=64)');
    expect(svg).toContain('memory per 1M keys');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('scales the widest bar to the panel and says "not run" for a missing figure', () => {
    const results = sampleResults();
    delete results.backends[1]!.memory;
    const svg = renderSvg(results);
    expect(svg).toContain('width="250.0"');
    expect(svg).toContain('>not run<');
  });

  it('escapes text', () => {
    expect(escapeXml('<a & "b">')).toBe('&lt;a &amp; &quot;b&quot;&gt;');
  });
});

describe('stabilitySummary', () => {
  it('is computed from the figures', () => {
    const burst = { inFlight: 5000, errors: 0, p99Ms: 10, maxMs: 12, seconds: 0.1 };
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
