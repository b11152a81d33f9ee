import { describe, expect, it } from 'vitest';
import { Progress, progressMode } from '../src/progress.js';

/** A stream that keeps what is written, as a terminal or a pipe. */
function stream(isTTY: boolean) {
  const out: string[] = [];
  const s = {
    isTTY,
    columns: 80,
    write: (text: string) => out.push(text) > 0,
  } as unknown as NodeJS.WriteStream;
  return { s, text: () => out.join('') };
}

describe('progress', () => {
  it('is quiet under CI=true, a spinner on a terminal, lines in a pipe', () => {
    expect(progressMode(stream(true).s, { CI: 'true' })).toBe('quiet');
    expect(progressMode(stream(true).s, {})).toBe('tty');
    expect(progressMode(stream(false).s, {})).toBe('plain');
  });

  it('redraws a running phase on a terminal and prints its summary when done', async () => {
    const { s, text } = stream(true);
    const phase = new Progress('tty', s).phase('redis get-hit c=64');
    phase.update('round 3 of 16, raw');
    await new Promise((resolve) => setTimeout(resolve, 250));
    phase.done('1.64× (0.80–2.07)');
    expect(text()).toContain('redis get-hit c=64: round 3 of 16, raw');
    expect(text()).toMatch(/✓ redis get-hit c=64: 1\.64× \(0\.80–2\.07\) \(0\.\d s\)\n$/);
  });

  it('prints nothing but notes under CI', () => {
    const { s, text } = stream(false);
    const progress = new Progress('quiet', s);
    progress.phase('memory: loading').done('done');
    progress.note('Skipping redis: not found');
    expect(text()).toBe('Skipping redis: not found\n');
  });
});
