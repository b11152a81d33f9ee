import { describe, expect, inject, it } from 'vitest';
import { memcachedVersion, postgresVersion, redisVersion } from '../src/index.js';
import { describeWithServer, serverInfo, useServer } from '../src/vitest.js';

describeWithServer('redis', 'the shared redis', (server) => {
  it('answers at its url with the version it was provided with', async () => {
    const url = new URL(server.url);
    expect(await redisVersion({ host: url.hostname, port: Number(url.port) })).toBe(server.version);
    expect(useServer('redis')).toEqual(server);
  });
});

describeWithServer('memcached', 'the shared memcached', (server) => {
  it('answers at its url with the version it was provided with', async () => {
    const [host = '', port = ''] = server.url.split(':');
    expect(await memcachedVersion({ host, port: Number(port) })).toBe(server.version);
  });
});

describeWithServer('postgres', 'the shared postgres', (server) => {
  it('answers at its url with the version it was provided with', async () => {
    const url = new URL(server.url);
    expect(await postgresVersion({ host: url.hostname, port: Number(url.port) })).toBe(server.version);
  });
});

describe('without the global setup', () => {
  it.skipIf(inject('larderServers') !== undefined)('explains how to wire it', () => {
    expect(serverInfo('redis')).toEqual({ unavailable: expect.stringMatching(/globalSetup/) });
    expect(() => useServer('redis')).toThrow(/vitest-global-setup\.ts/);
  });
});
