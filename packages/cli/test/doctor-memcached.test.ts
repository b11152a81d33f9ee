import { connect, type Socket } from 'node:net';
import { type ServerHandle, startMemcached } from '@larder/testkit';
import { sleep } from '@larder/testkit/helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor } from '../src/index.js';
import { ensureBuilt, larder } from './bin.js';

let full: ServerHandle;
let roomy: ServerHandle;

/** Opens more connections than the server allows, then closes them: the server has turned clients away. */
async function saturate(server: ServerHandle, count: number): Promise<void> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(server.port, server.host);
    socket.on('error', () => {});
    sockets.push(socket);
  }
  await sleep(300);
  for (const socket of sockets) socket.destroy();
  await sleep(200);
}

beforeAll(async () => {
  ensureBuilt();
  full = await startMemcached({ maxConnections: 32, threads: 1, useEnv: false });
  roomy = await startMemcached({ useEnv: false, memoryMb: 16 });
  await saturate(full, 60);
}, 60_000);

afterAll(async () => {
  await Promise.all([full?.stop(), roomy?.stop()]);
});

describe('larder doctor against memcached', () => {
  it('fails the connection check of a server that hit its connection limit, with the fix', async () => {
    const report = await doctor(`memcached://127.0.0.1:${full.port}`);
    const connections = report.checks.find((c) => c.name === 'connections');
    expect(connections?.status).toBe('FAIL');
    expect(connections?.read).toMatch(/of 32 connections, [1-9]\d* rejected/);
    expect(connections?.fix).toMatch(/raise -c/);
    expect(report.checks.filter((c) => c.status === 'FAIL').map((c) => c.name)).toEqual(['connections']);
  });

  it('passes a server with room, reading memory, SASL and evictions', async () => {
    const report = await doctor(`memcached://127.0.0.1:${roomy.port}`);
    expect(Object.fromEntries(report.checks.map((c) => [c.name, c.status]))).toEqual({
      'hit-rate': 'UNKNOWN',
      evictions: 'PASS',
      memory: 'PASS',
      connections: 'PASS',
      sasl: 'PASS',
    });
    expect(report.checks.find((c) => c.name === 'memory')?.read).toMatch(/of 16\.0 MB/);
    expect(report.checks.find((c) => c.name === 'sasl')?.read).toMatch(/loopback only/);
  });

  it('exits 1 for the full server, and ttl-audit says memcached cannot list keys (exit 2)', async () => {
    expect((await larder(['doctor', `memcached://127.0.0.1:${full.port}`])).code).toBe(1);
    const audit = await larder(['ttl-audit', `memcached://127.0.0.1:${roomy.port}`]);
    expect(audit.code).toBe(2);
    expect(audit.stderr).toMatch(/^larder: memcached cannot list its keys/);
  });
});
