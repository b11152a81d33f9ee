import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(root, 'packages/cli/dist/cli.js');

/** Newest modification time under a folder of sources. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * Builds the `larder` bin (and the core it imports) when its output is missing or older than
 * the sources, so these tests run what a user runs even straight after an edit.
 */
export function ensureBuilt(): void {
  const stale = (pkg: string, output: string) =>
    !existsSync(join(root, output)) || statSync(join(root, output)).mtimeMs < newest(join(root, pkg, 'src'));
  const needed = () =>
    stale('packages/core', 'packages/core/dist/index.js') ||
    stale('packages/cli', 'packages/cli/dist/cli.js');
  if (!needed()) return;
  // Test files run in parallel workers: one builds, the others wait for its lock to go.
  const lock = join(root, 'packages/cli/dist-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 2 minutes; remove it if no build runs`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (needed())
      execFileSync('pnpm', ['--filter', '@larder/cli...', 'run', 'build'], { cwd: root, stdio: 'ignore' });
  } finally {
    rmdirSync(lock);
  }
}

/** Runs `larder ...args` as a user does; resolves its exit code and output. */
export function larder(
  args: string[],
  cwd = root,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
