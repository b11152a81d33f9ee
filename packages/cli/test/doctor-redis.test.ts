import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DoctorReport, doctor } from '../src/index.js';
import { ensureBuilt, larder } from './bin.js';

const PASSWORD = 'doctor-Secret-93f1';
const servers: RedisServerHandle[] = [];
let bad: RedisServerHandle;
let good: RedisServerHandle;

const status = (report: DoctorReport) => Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
const check = (report: DoctorReport, name: string) => report.checks.find((c) => c.name === name);

/** Writes 2 KB values without expiry until used_memory passes `share` of maxmemory. */
async function fillMemory(url: string, share: number): Promise<void> {
  const client = new Redis(url);
  try {
    const limit = Number(((await client.config('GET', 'maxmemory')) as string[])[1]);
    const value = 'x'.repeat(2048);
    for (let batch = 0; batch < 1000; batch++) {
      const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
      if (used >= share * limit) return;
      const pipeline = client.pipeline();
      for (let i = 0; i < 20; i++) pipeline.set(`fill:${batch}:${i}`, value);
      await pipeline.exec();
    }
    throw new Error('could not fill the server');
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  ensureBuilt();
  // Deliberately bad: no password, a memory limit with noeviction, keys without expiry, memory near its limit.
  bad = await startRedis({ maxmemory: '8mb', maxmemoryPolicy: 'noeviction', useEnv: false });
  good = await startRedis({
    requirepass: PASSWORD,
    maxmemory: '64mb',
    maxmemoryPolicy: 'allkeys-lru',
    useEnv: false,
  });
  servers.push(bad, good);
  await fillMemory(bad.url, 0.82);
  const client = new Redis(good.url);
  await client.set('session:1', 'v', 'PX', 60_000);
  client.disconnect();
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('larder doctor against Redis', () => {
  it('reports exactly what is wrong with a badly configured server, each with a fix', async () => {
    const report = await doctor(bad.url);
    expect(status(report)).toEqual({
      auth: 'FAIL',
      'acl-default-user': 'FAIL',
      'network-exposure': 'PASS',
      tls: 'PASS',
      maxmemory: 'PASS',
      'eviction-policy': 'FAIL',
      memory: 'WARN',
      'keys-without-expiry': 'FAIL',
      'hit-rate': 'UNKNOWN',
      connections: 'PASS',
      evictions: 'PASS',
      latency: expect.stringMatching(/PASS|WARN/),
      version: expect.stringMatching(/PASS|WARN/),
    });
    expect(check(report, 'eviction-policy')?.fix).toMatch(/allkeys-lru/);
    expect(check(report, 'keys-without-expiry')?.read).toMatch(/^1000 of 1000 sampled keys have no expiry$/);
    expect(check(report, 'auth')?.fix).toMatch(/requirepass/);
    for (const c of report.checks) if (c.status === 'FAIL' || c.status === 'WARN') expect(c.fix).not.toBe('');
  });

  it('finds no FAIL on a well-configured server', async () => {
    const report = await doctor(good.url);
    expect(report.checks.filter((c) => c.status === 'FAIL')).toEqual([]);
    expect(status(report)).toMatchObject({
      auth: 'PASS',
      'acl-default-user': 'PASS',
      maxmemory: 'PASS',
      'eviction-policy': 'PASS',
      memory: 'PASS',
      'keys-without-expiry': 'PASS',
    });
    expect(report.target).toBe(`redis://:***@127.0.0.1:${good.port}`);
  });

  it('calls a check the server refuses UNKNOWN with the reason instead of crashing', async () => {
    const limited = await startRedis({
      aclUsers: ['default on nopass ~* +@all', 'auditor on >auditor-pw ~* +@all -config -acl'],
      useEnv: false,
    });
    servers.push(limited);
    const report = await doctor(`redis://auditor:auditor-pw@127.0.0.1:${limited.port}`);
    expect(check(report, 'maxmemory')).toMatchObject({ status: 'UNKNOWN' });
    expect(check(report, 'maxmemory')?.read).toMatch(/refused CONFIG GET maxmemory: NOPERM/);
    expect(check(report, 'acl-default-user')?.read).toMatch(/refused ACL GETUSER/);
    expect(check(report, 'auth')?.status).toBe('FAIL');
  });

  it('reads a TLS server over rediss:// and passes the tls check', async () => {
    const tls = await startRedis({ tls: true, requirepass: PASSWORD, useEnv: false });
    servers.push(tls);
    expect(tls.url.startsWith('rediss://')).toBe(true);
    const report = await doctor(tls.url, { insecure: true });
    expect(check(report, 'tls')).toMatchObject({ status: 'PASS', read: 'connected over TLS (rediss://)' });
    expect(check(report, 'auth')?.status).toBe('PASS');
    // Without --insecure the throwaway CA does not verify: one clear error, not a crash.
    await expect(doctor(tls.url)).rejects.toThrow(
      /cannot reach redis at 127\.0\.0\.1:\d+ \(.*(certificate|self.signed)/i,
    );
  });

  it('exits 1 on a failing check and 0 on a healthy server, never printing the password', async () => {
    const failing = await larder(['doctor', bad.url]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(
      /^FAIL +eviction-policy +maxmemory-policy noeviction — fix: .*allkeys-lru/m,
    );
    const healthy = await larder(['doctor', good.url, '--json']);
    expect(healthy.code).toBe(0);
    const report = JSON.parse(healthy.stdout) as DoctorReport;
    expect(report.kind).toBe('redis');
    expect(healthy.stdout + healthy.stderr).not.toContain(PASSWORD);
    const text = await larder(['doctor', good.url]);
    expect(text.stdout + text.stderr).not.toContain(PASSWORD);
  });

  it('exits 2 with one line for a wrong password, an unreachable server and an unknown scheme', async () => {
    const wrong = await larder(['doctor', `redis://:not-${PASSWORD}@127.0.0.1:${good.port}`]);
    expect(wrong).toMatchObject({ code: 2, stdout: '' });
    expect(wrong.stderr).toMatch(
      /^larder: authentication failed for redis:\/\/:\*\*\*@127\.0\.0\.1:\d+; check the password/,
    );
    expect(wrong.stderr).not.toContain(PASSWORD);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);

    const stopped = await startRedis({ useEnv: false, extraArgs: ['--save', ''] });
    await stopped.stop();
    const unreachable = await larder(['doctor', `redis://127.0.0.1:${stopped.port}`]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(
      /^larder: cannot reach redis at 127\.0\.0\.1:\d+ \(connect ECONNREFUSED/,
    );
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);

    const scheme = await larder(['doctor', 'mongodb://127.0.0.1:27017']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr.trim()).toBe(
      'larder: unknown scheme "mongodb://"; larder knows redis://, rediss://, memcached://, postgres:// and SQLite files',
    );
  });

  it('requires a password it was not given: exit 2 naming where it goes', async () => {
    const result = await larder(['doctor', `redis://127.0.0.1:${good.port}`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/requires a password; put it in the URL/);
  });
});
