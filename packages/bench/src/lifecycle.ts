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
