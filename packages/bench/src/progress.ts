/** One phase on the progress line. */
export interface PhaseHandle {
  /** Replaces the detail shown after the phase name. */
  update(detail: string): void;
  /** Ends the phase; `summary` is printed after it (TTY and plain mode). */
  done(summary?: string): void;
}

/** How progress is shown: a spinner on a terminal, plain lines in a pipe, nothing under CI. */
export type ProgressMode = 'tty' | 'plain' | 'quiet';

const FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

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
  readonly mode: ProgressMode;
  readonly #stream: NodeJS.WriteStream;
  #timer: NodeJS.Timeout | undefined;

  constructor(mode: ProgressMode = progressMode(), stream: NodeJS.WriteStream = process.stderr) {
    this.mode = mode;
    this.#stream = stream;
  }

  /** Starts a phase (ending any phase still open). */
  phase(label: string, detail = ''): PhaseHandle {
    this.close();
    const started = performance.now();
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
    let frame = 0;
    const draw = () => {
      const text = `${FRAMES[frame++ % FRAMES.length]} ${label}${detail ? `: ${detail}` : ''} ${seconds()} s`;
      this.#stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, (this.#stream.columns || 100) - 1))}`);
    };
    if (this.mode === 'plain') this.#stream.write(`${label}${detail ? ` (${detail})` : ''}...\n`);
    if (this.mode === 'tty') {
      draw();
      this.#timer = setInterval(draw, 100).unref();
    }
    let open = true;
    return {
      update: (text) => {
        if (open) detail = text;
      },
      done: (summary) => {
        if (!open) return;
        open = false;
        this.close();
        if (summary === undefined || this.mode === 'quiet') return;
        this.#stream.write(
          `${this.mode === 'tty' ? '✓' : '  done:'} ${label}: ${summary} (${seconds()} s)\n`,
        );
      },
    };
  }

  /** Prints a line that stays (a warning, a skipped backend). Shown even under CI. */
  note(line: string): void {
    if (this.mode === 'tty') this.#stream.write('\r\x1b[2K');
    this.#stream.write(`${line}\n`);
  }

  /** Stops the spinner and clears its line (at the end of a phase, on exit or interrupt). */
  close(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stream.write('\r\x1b[2K');
  }
}
