import type { ChildProcess } from 'node:child_process';

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();
const children = new Set<ChildProcess>();

/** Registers something to undo if the run is interrupted (stop a server, remove a temp dir); returns the unregister function. */
export function onInterrupt(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Tracks a child process so an interrupt kills it; it is forgotten once it exits. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * Undoes everything registered, newest first, each bounded by `timeoutMs` so a hung server
 * cannot keep Ctrl-C from finishing. Children are killed first: they hold no state worth saving.
 */
export async function runCleanups(timeoutMs = 3000): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const cleanup of pending) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(cleanup),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } catch {
      // best effort: keep undoing the rest
    } finally {
      clearTimeout(timer);
    }
  }
}
