import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../src/types.js';

// The CLI as users run it (built: `pnpm bench` builds first, and so does .ci/run before the tests).
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'larder-bench-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The environment of a user with no server configured and progress shown as lines. */
function bareEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  for (const name of ['REDIS_URL', 'MEMCACHED_URL', 'DATABASE_URL', 'CI']) delete env[name];
  return env;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Outside CI a missing build or namespace tool skips with the reason; under CI=true it fails. */
function canRun(what: string, ok: boolean, why: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') throw new Error(`${what}: ${why}`);
  console.warn(`skipping ${what}: ${why}`);
  return false;
}

const built = canRun('the bench CLI tests', existsSync(CLI), `${CLI} is missing; run \`pnpm build\` first`);
const namespaces = spawnSync('unshare', ['--mount', 'true']).status === 0;

const TINY = ['--quick', '--rounds', '2', '--duration', '10', '--warmup', '0', '--keys', '200'];

describe.runIf(built)('pnpm bench (built CLI)', () => {
  it.each([
    [['--rounds', '0'], /--rounds 0 is out of range/],
    [['--speed-wait', '5'], /Unknown option '--speed-wait'/],
    [['--backends', 'mongo'], /unknown "mongo"/],
  ])('exits 2 on %j before starting anything', (argv, message) => {
    const started = performance.now();
    const result = spawnSync(process.execPath, [CLI, ...argv], { encoding: 'utf8', env: bareEnv() });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  // Hides every server binary the testkit looks for (bind-mounting /dev/null over it in a
  // private mount namespace) and any Docker engine: the bench must still finish on memory and SQLite.
  it('completes on memory and SQLite with no server reachable', (context) => {
    if (!canRun('the no-server run', namespaces, '`unshare --mount` is not permitted here (needs root)')) {
      context.skip();
    }
    const hide = `for name in redis-server memcached postgres initdb; do
      for dir in $(echo "$PATH" | tr : ' ') /usr/bin /usr/local/bin /usr/local/pgsql/bin /usr/lib/postgresql/*/bin; do
        [ -e "$dir/$name" ] && mount --bind /dev/null "$dir/$name"
      done
    done; exec "$@"`;
    const dir = join(out, 'bare');
    const result = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        hide,
        'sh',
        process.execPath,
        CLI,
        ...TINY,
        '--out',
        dir,
        '--check',
      ],
      { encoding: 'utf8', env: bareEnv(), timeout: 120_000 },
    );
    expect(result.error).toBeUndefined();
    expect(result.stderr).not.toMatch(/unshare: .*(Operation not permitted|not found)/);
    expect(result.status, result.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchResults;
    expect(results.backends.map((b) => b.name)).toEqual(['memory', 'sqlite']);
    expect(results.skipped.map((s) => s.name)).toEqual(['redis', 'memcached', 'postgres']);
    for (const s of results.skipped) expect(s.reason).toMatch(/not found/);
    expect(result.stdout).toContain('Check passed');
  }, 150_000);

  it('leaves no server running after Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [CLI, ...TINY, '--backends', 'redis', '--rounds', '50', '--out', join(out, 'int')],
      {
        env: bareEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const code = exited(child);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('redis get-hit')) resolve();
      });
      void code.then(() => reject(new Error(`the bench ended before its first case:\n${stderr}`)));
    });
    const servers = readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid))
      .filter((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return stat.includes('(redis-server)') && stat.split(') ')[1]?.split(' ')[1] === String(child.pid);
        } catch {
          return false;
        }
      })
      .map(Number);
    expect(servers).toHaveLength(1);
    child.kill('SIGINT');
    expect(await code).toBe(130);
    expect(() => process.kill(servers[0]!, 0)).toThrow();
  }, 60_000);
});
