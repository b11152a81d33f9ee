import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findBinary, postgresBinDirs } from '../src/binaries.js';
import {
  listStartedServers,
  memcachedVersion,
  NoReplyError,
  postgresVersion,
  redisVersion,
  type ServerHandle,
  ServerUnavailableError,
  startMemcached,
  startPostgres,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
  withRedis,
} from '../src/index.js';
import { reapOrphans } from '../src/reap.js';

const redisBinary = findBinary('redis-server', ['/usr/bin', '/usr/local/bin']);
const memcachedBinary = findBinary('memcached', ['/usr/bin', '/usr/local/bin']);
const postgresBinary = findBinary('postgres', postgresBinDirs());
// under CI a missing binary fails (with the testkit's reason) instead of skipping
const required = process.env.CI === 'true' || process.env.LARDER_REQUIRE_SERVERS === '1';
const missing = (binary: string | undefined) => !binary && !required;

/** Resolves when the port refuses connections; rejects if something accepts. */
function expectRefused(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      reject(new Error(`port ${port} accepted a connection`));
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNREFUSED' ? resolve() : reject(error),
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^State:\s+Z/m.test(execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

/** The state letters (R, S, T, …) of a process and its direct children, e.g. Postgres backends. */
function treeStates(pid: number): string[] {
  // `ps` exits 1 when a process has no children: `|| true`
  const list = `ps -o stat= -p ${pid}; ps -o stat= --ppid ${pid} || true`;
  const stats = execFileSync('/bin/sh', ['-c', list], { encoding: 'utf8' }).split('\n');
  // 'Z': a backend that already exited and awaits its parent's wait(); it runs nothing.
  return stats.map((stat) => stat.trim().charAt(0)).filter((state) => state !== '' && state !== 'Z');
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(50);
  }
  return condition();
}

/** Plain node cannot import .ts here (Node 20): transpile src/ to a temp dir for a child process. */
async function transpileTestkit(): Promise<string> {
  const ts = (await import('typescript')).default;
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  const out = mkdtempSync(join(tmpdir(), 'larder-testkit-build-'));
  for (const file of readdirSync(src).filter((name) => name.endsWith('.ts') && !name.startsWith('vitest'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(src, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(out, file.replace(/\.ts$/, '.js')), outputText);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  // the probes import ioredis and pg: resolve them from the testkit's own node_modules
  symlinkSync(fileURLToPath(new URL('../node_modules', import.meta.url)), join(out, 'node_modules'));
  return out;
}

const started: ServerHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((server) => server.stop()));
});

interface Kind {
  name: 'redis' | 'memcached' | 'postgres';
  binary: string | undefined;
  start: () => Promise<ServerHandle>;
  ask: (port: number, timeoutMs: number) => Promise<string>;
  binaryVersion: (binary: string) => string;
}

const kinds: Kind[] = [
  {
    name: 'redis',
    binary: redisBinary,
    start: () => startRedis({ useEnv: false }),
    ask: (port, timeoutMs) => redisVersion({ host: '127.0.0.1', port }, timeoutMs),
    binaryVersion: (binary) => execFileSync(binary, ['--version'], { encoding: 'utf8' }),
  },
  {
    name: 'memcached',
    binary: memcachedBinary,
    start: () => startMemcached({ useEnv: false }),
    ask: (port, timeoutMs) => memcachedVersion({ host: '127.0.0.1', port }, timeoutMs),
    binaryVersion: (binary) => execFileSync(binary, ['--version'], { encoding: 'utf8' }),
  },
  {
    name: 'postgres',
    binary: postgresBinary,
    start: () => startPostgres({ useEnv: false }),
    ask: (port, timeoutMs) => postgresVersion({ host: '127.0.0.1', port }, undefined, timeoutMs),
    binaryVersion: (binary) => execFileSync(binary, ['--version'], { encoding: 'utf8' }),
  },
];

for (const kind of kinds) {
  describe.skipIf(missing(kind.binary))(`${kind.name} from the local binary`, () => {
    let server: ServerHandle;

    it('starts on a free loopback port and reports the version the binary reports', async () => {
      const began = Date.now();
      server = await kind.start();
      started.push(server);
      console.log(`${kind.name} ${server.version} ready in ${Date.now() - began} ms`);
      expect(server.source).toBe('local');
      expect(server.host).toBe('127.0.0.1');
      expect(server.pid).toBeTypeOf('number');
      expect(kind.binaryVersion(kind.binary!)).toContain(server.version.split(' ')[0]);
      expect(await kind.ask(server.port, 2_000)).toBe(server.version);
    });

    it('refuses connections after kill() and answers on the same port after restart()', async () => {
      const port = server.port;
      const oldPid = server.pid!;
      await server.kill();
      expect(isAlive(oldPid)).toBe(false);
      await expectRefused(port);
      await server.restart();
      expect(server.port).toBe(port);
      expect(server.pid).not.toBe(oldPid);
      expect(await kind.ask(port, 2_000)).toBe(server.version);
    });

    it('stops answering while paused and answers again once resumed', async () => {
      await server.pause();
      expect(new Set(treeStates(server.pid!))).toEqual(new Set(['T']));
      await expect(kind.ask(server.port, 300)).rejects.toBeInstanceOf(NoReplyError);
      await server.resume();
      expect(await kind.ask(server.port, 2_000)).toBe(server.version);
    });

    it('restart() while running comes back on the same port', async () => {
      const port = server.port;
      await server.restart();
      expect(server.port).toBe(port);
      expect(await kind.ask(port, 2_000)).toBe(server.version);
    });

    it('stop() ends the process, removes the dir and the registry entry, and is idempotent', async () => {
      const pid = server.pid!;
      const entry = listStartedServers().find((candidate) => candidate.pid === pid);
      expect(entry?.running).toBe(true);
      expect(existsSync(entry!.dir)).toBe(true);
      await server.stop();
      await server.stop();
      expect(isAlive(pid)).toBe(false);
      expect(existsSync(entry!.dir)).toBe(false);
      expect(listStartedServers().some((candidate) => candidate.pid === pid)).toBe(false);
      await expect(server.restart()).rejects.toThrow(/stopped/);
    });
  });
}

describe.skipIf(missing(redisBinary))('redis options', () => {
  it('requirepass puts the password in the url and refuses commands without it', async () => {
    const server = await startRedis({ requirepass: 's3cret' });
    started.push(server);
    expect(server.url).toBe(`redis://:s3cret@127.0.0.1:${server.port}`);
    await expect(withRedis(server, (client) => client.ping())).rejects.toThrow(/NOAUTH/);
    const authed = { ...server, password: 's3cret' };
    expect(await withRedis(authed, (client) => client.ping())).toBe('PONG');
    const config = await withRedis(authed, (client) =>
      Promise.all([client.config('GET', 'save'), client.config('GET', 'appendonly')]),
    );
    expect(config).toEqual([
      ['save', ''],
      ['appendonly', 'no'],
    ]);
    await server.stop();
  });

  it('tls serves rediss:// with a throwaway CA', async () => {
    const server = await startRedis({ tls: true, aclUsers: ['alice on >pw ~* +@all'] });
    started.push(server);
    expect(server.url).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    expect(server.tls?.ca).toContain('BEGIN CERTIFICATE');
    const endpoint = { host: server.host, port: server.port, tls: { ca: server.tls!.ca } };
    expect(
      await withRedis({ ...endpoint, username: 'alice', password: 'pw' }, (client) => client.ping()),
    ).toBe('PONG');
    // plain TCP to a TLS-only port gets no answer it understands
    await expect(
      withRedis({ host: server.host, port: server.port }, (client) => client.ping(), 500),
    ).rejects.toThrow();
    await server.stop();
  });
});

describe.skipIf(missing(redisBinary))('start-up failures', () => {
  it('a server that exits while starting fails at once with its log tail', async () => {
    const began = Date.now();
    const error = await startRedis({ extraArgs: ['--no-such-directive', 'x'] }).catch(
      (caught: unknown) => caught,
    );
    expect(Date.now() - began).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(ServerUnavailableError);
    expect((error as Error).message).toMatch(/exited with code 1 while starting/);
    expect((error as Error).message).toMatch(/Bad directive or wrong number of arguments/);
    expect((error as ServerUnavailableError).fix).toMatch(/apt-get install redis-server/);
  });

  it('restart() reports a port that another process took meanwhile', async () => {
    const server = await startRedis({ useEnv: false });
    started.push(server);
    await server.kill();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(server.port, '127.0.0.1', resolve));
    try {
      await expect(server.restart()).rejects.toThrow(/cannot restart on port \d+: another process took it/);
    } finally {
      squatter.close();
      await server.stop();
    }
  });
});

describe.skipIf(missing(redisBinary))('servers named by environment URLs', () => {
  const saved = process.env.REDIS_URL;
  afterAll(() => {
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  });

  it('uses the URL as is and refuses fault injection', async () => {
    const own = await startRedis({ useEnv: false });
    started.push(own);
    process.env.REDIS_URL = own.url;
    const env = await startRedis();
    expect(env.source).toBe('env');
    expect(env.pid).toBeUndefined();
    expect(env.version).toBe(own.version);
    for (const fault of [env.kill, env.pause, env.resume, env.restart]) {
      await expect(fault.call(env)).rejects.toThrow(/fault injection needs a server the testkit started/);
    }
    await env.stop();
    expect(await redisVersion(own)).toBe(own.version);
    await own.stop();
  });

  it('explains an unreachable URL within a bounded time', async () => {
    const own = await startRedis({ useEnv: false });
    const port = own.port;
    await own.stop();
    process.env.REDIS_URL = `redis://:pw@127.0.0.1:${port}`;
    const began = Date.now();
    const error = await startRedis().catch((caught: unknown) => caught);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(ServerUnavailableError);
    expect(String((error as Error).message)).toMatch(
      /REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ is set but/,
    );
    expect((error as ServerUnavailableError).fix).toMatch(/unset it/);
  });
});

describe.skipIf(missing(redisBinary))('orphans', () => {
  it('a SIGKILLed owner leaves no server and no dir behind', async () => {
    const build = await transpileTestkit();
    const owner = `
      const { startRedis } = await import(process.env.TESTKIT_BUILD + '/index.js');
      const server = await startRedis({ useEnv: false });
      console.log(JSON.stringify({ pid: server.pid, dir: server.dir }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', owner], {
      env: { ...process.env, TESTKIT_BUILD: build },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`owner exited early with ${code}`)));
    });
    const { pid, dir } = JSON.parse(line) as { pid: number; dir: string };
    expect(isAlive(pid)).toBe(true);
    child.kill('SIGKILL');
    const killedAt = Date.now();
    // The reaper stops the server, removes its dir, then its registry entry: wait for all three.
    const listed = () => listStartedServers().some((server) => server.pid === pid);
    expect(await waitUntil(() => !isAlive(pid) && !existsSync(dir) && !listed(), 3_000)).toBe(true);
    console.log(`orphaned redis gone ${Date.now() - killedAt} ms after its owner was SIGKILLed`);
    rmSync(build, { recursive: true, force: true });
  });
});

describe.skipIf(missing(redisBinary))('redis cluster', () => {
  it('forms a 3-master cluster with cluster_state:ok', async () => {
    const cluster = await startRedisCluster();
    try {
      expect(cluster.nodes).toHaveLength(3);
      const info = await withRedis(cluster.nodes[0]!, (client) => client.cluster('INFO'));
      expect(String(info)).toContain('cluster_state:ok');
      expect(String(info)).toMatch(/cluster_size:3\r\n/);
      expect(String(info)).toContain('cluster_slots_assigned:16384');
    } finally {
      await cluster.stop();
    }
  });
});

describe.skipIf(missing(redisBinary))('redis sentinel', () => {
  it('starts a master, a replica and 3 sentinels that know each other; stop() ends them all, idempotent', async () => {
    const topology = await startRedisSentinel({ replicas: 1, sentinels: 3 });
    const processes = [topology.master, ...topology.replicas, ...topology.sentinelServers];
    try {
      expect(await topology.masterAddress()).toEqual({ host: '127.0.0.1', port: topology.master.port });
      const replication = await withRedis(topology.replicas[0]!, (client) => client.info('replication'));
      expect(replication).toMatch(new RegExp(`^master_port:${topology.master.port}\r?$`, 'm'));
      for (const sentinel of topology.sentinels) {
        const view = (await withRedis(sentinel, (client) =>
          client.call('SENTINEL', 'MASTER', topology.name),
        )) as string[];
        const field = (name: string) => view[view.indexOf(name) + 1];
        expect([field('num-slaves'), field('num-other-sentinels'), field('quorum')]).toEqual(['1', '2', '2']);
        expect(field('down-after-milliseconds')).toBe('1000');
      }
      const registered = listStartedServers().filter((server) =>
        processes.some((handle) => handle.pid === server.pid),
      );
      expect(registered.map((server) => server.running)).toEqual([true, true, true, true, true]);
    } finally {
      await topology.stop();
      await topology.stop();
    }
    for (const handle of processes) expect(isAlive(handle.pid!)).toBe(false);
    const pids = new Set(processes.map((handle) => handle.pid));
    expect(listStartedServers().filter((server) => pids.has(server.pid))).toEqual([]);
  });

  it('a cluster with replicas gives each master one replica, all slots served', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    try {
      expect(cluster.servers).toHaveLength(6);
      const shards = await cluster.shards();
      expect(shards.map((shard) => shard.replicas.length)).toEqual([1, 1, 1]);
      expect(shards.reduce((total, shard) => total + shard.slots, 0)).toBe(16384);
      const masters = new Set(shards.map((shard) => shard.master));
      expect(shards.every((shard) => !masters.has(shard.replicas[0]!))).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});

describe('cleanup', () => {
  it('leaves no server this process started running once stopped', async () => {
    await Promise.all(started.map((server) => server.stop()));
    const mine = listStartedServers().filter((server) => server.ownerPid === process.pid && server.running);
    expect(mine).toEqual([]);
    expect(reapOrphans().filter((server) => server.ownerPid === process.pid)).toEqual([]);
  });
});
