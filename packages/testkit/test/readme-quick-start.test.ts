// The README's quick starts, pasted into a file and run with `node` as a newcomer would: each
// must print what its comments say and exit by itself. The @larder packages resolve to the
// workspace builds (dist), rebuilt here when a source is newer.
import { execFile, execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary } from '../src/binaries.js';
import { type RedisServerHandle, readmeBlock, startRedis } from '../src/index.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const linked = ['core', 'backend-redis'];
const required = process.env.CI === 'true' || process.env.LARDER_REQUIRE_SERVERS === '1';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Builds a package whose dist is missing or older than its sources. */
function ensureBuilt(name: string): void {
  const dir = join(repo, 'packages', name);
  let built = 0;
  try {
    built = newestMtime(join(dir, 'dist'));
  } catch {
    // no dist yet
  }
  if (built >= newestMtime(join(dir, 'src'))) return;
  execFileSync(join(repo, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: dir });
}

/** Runs a README block as `node quick-start.mjs` in an app dir; resolves with stdout once it exits. */
function runBlock(
  appDir: string,
  name: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const file = join(appDir, `${name}.mjs`);
  writeFileSync(file, readmeBlock(readFileSync(join(repo, 'README.md'), 'utf8'), name));
  const started = performance.now();
  return new Promise((resolve) => {
    // a quick start that never exits is killed at 15 s and fails below
    execFile(
      process.execPath,
      [file],
      { cwd: appDir, timeout: 15_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      },
    );
  });
}

describe("the README's quick start, run with node as pasted", () => {
  let appDir = '';
  beforeAll(() => {
    for (const name of linked) ensureBuilt(name);
    appDir = mkdtempSync(join(tmpdir(), 'larder-quick-start-'));
    mkdirSync(join(appDir, 'node_modules/@larder'), { recursive: true });
    for (const name of linked)
      symlinkSync(join(repo, 'packages', name), join(appDir, 'node_modules/@larder', name));
    writeFileSync(join(appDir, 'package.json'), '{ "type": "module", "private": true }\n');
  }, 60_000);
  afterAll(() => rmSync(appDir, { recursive: true, force: true }));

  it('the in-memory quick start prints its values and exits by itself', async () => {
    const run = await runBlock(appDir, 'memory');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual(["{ text: 'hello' }", 'user 42', '1', '0.5', '']);
  });

  describe('on Redis', () => {
    const binary = findBinary('redis-server', ['/usr/bin', '/usr/local/bin']);
    let redis: RedisServerHandle | undefined;
    beforeAll(async () => {
      if (binary || required) redis = await startRedis({ useEnv: false });
    });
    afterAll(() => redis?.stop());

    it.skipIf(!binary && !required)(
      'the Redis quick start closes its connection and exits by itself',
      async () => {
        const env = { REDIS_URL: redis!.url };
        const first = await runBlock(appDir, 'redis', env);
        expect(first.stderr).not.toMatch(/Error/);
        expect(first.code).toBe(0);
        expect(first.stdout.split('\n')).toEqual(["{ text: 'hello' }", '1', '']);
        // a second run finds the counter the first left behind
        const second = await runBlock(appDir, 'redis', env);
        expect(second.code).toBe(0);
        expect(second.stdout.split('\n')[1]).toBe('2');
      },
    );
  });
});
