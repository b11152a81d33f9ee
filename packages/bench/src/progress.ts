import type { WriteStream } from 'node:tty';

/** One phase on the progress line. */
export interface PhaseHandle {
  /** Replaces the detail shown after the phase name. */
  update(detail: string): void;
  /** Ends the phase; `summary` is printed after it (TTY and plain mode). */
  done(summary?: string): void;
}

/** How progress is shown: a spinner on a terminal, plain lines in a pipe, nothing under CI. */
export type ProgressMode = 'tty' | 'plain' | 'quiet';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Picks the mode from the environment: quiet under `CI=true`, a spinner on a TTY stderr, else lines. */
export function progressMode(stream: NodeJS.WriteStream = process.stderr, env = process.env): ProgressMode {
  if (env.CI === 'true' || env.CI === '1') return 'quiet';
  return stream.isTTY ? 'tty' : 'plain';
}

/**
 * Shows what the bench is doing. Phases are sequential; on a TTY one line is redrawn in place
 * with a spinner and the elapsed time, elsewhere each phase prints one line when it starts.
 */
export class Progress {
  readonly #mode: ProgressMode;
  readonly #stream: NodeJS.WriteStream;
  #timer: NodeJS.Timeout | undefined;
  #label = '';
  #detail = '';
  #started = 0;
  #frame = 0;

  constructor(mode: ProgressMode = progressMode(), stream: NodeJS.WriteStream = process.stderr) {
    this.#mode = mode;
    this.#stream = stream;
  }

  get mode(): ProgressMode {
    return this.#mode;
  }

  /** Starts a phase (ending any phase still open). */
  phase(label: string, detail = ''): PhaseHandle {
    this.#stop();
    this.#label = label;
    this.#detail = detail;
    this.#started = performance.now();
    if (this.#mode === 'plain') this.#stream.write(`${label}${detail ? ` (${detail})` : ''}...\n`);
    if (this.#mode === 'tty') {
      this.#draw();
      this.#timer = setInterval(() => this.#draw(), 100);
      this.#timer.unref();
    }
    let open = true;
    return {
      update: (text) => {
        if (!open) return;
        this.#detail = text;
      },
      done: (summary) => {
        if (!open) return;
        open = false;
        this.#stop();
        if (summary !== undefined && this.#mode !== 'quiet') {
          const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
          this.#stream.write(
            `${this.#mode === 'tty' ? '✓' : '  done:'} ${label}: ${summary} (${seconds} s)\n`,
          );
        }
      },
    };
  }

  /** Prints a line that stays (a warning, a skipped backend), above the spinner. Shown even under CI. */
  note(line: string): void {
    this.#clearLine();
    this.#stream.write(`${line}\n`);
    if (this.#timer !== undefined) this.#draw();
  }

  /** Stops the spinner and clears its line (on exit or interrupt). */
  close(): void {
    this.#stop();
  }

  #draw(): void {
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    const frame = FRAMES[this.#frame++ % FRAMES.length];
    const columns = (this.#stream as WriteStream).columns || 100;
    const text = `${frame} ${this.#label}${this.#detail ? `: ${this.#detail}` : ''} ${seconds} s`;
    this.#stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, columns - 1))}`);
  }

  #clearLine(): void {
    if (this.#mode === 'tty') this.#stream.write('\r\x1b[2K');
  }

  #stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#clearLine();
    }
  }
}
