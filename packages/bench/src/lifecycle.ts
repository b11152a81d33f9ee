import { setTimeout as sleep } from 'node:timers/promises';

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();

/** Registers something to undo if the run is interrupted (stop a server, remove a temp dir); returns the unregister function. */
export function onInterrupt(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Undoes everything registered, newest first, each bounded by `timeoutMs` so a hung server
 * cannot keep Ctrl-C from finishing.
 */
export async function runCleanups(timeoutMs = 3000): Promise<void> {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const cleanup of pending) {
    const cap = new AbortController();
    // Best effort: one that throws or hangs does not keep the rest from running.
    const undone = new Promise<void>((resolve) => resolve(cleanup())).catch(() => {});
    await Promise.race([undone, sleep(timeoutMs, undefined, { signal: cap.signal }).catch(() => {})]);
    cap.abort();
  }
}
