import type { TestProject } from 'vitest/node';
import type {} from './provided-context.js';
import { serverKinds, startSharedServers } from './servers.js';

/**
 * Vitest globalSetup: starts one Redis, Memcached and Postgres per run and provides them as
 * `larderServers`. Under `CI=true` or `LARDER_REQUIRE_SERVERS=1` a missing server fails the run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = Date.now();
  const { handles, servers } = await startSharedServers();
  const stop = async () => {
    await Promise.all(handles.map((handle) => handle.stop()));
  };
  const missing = serverKinds.flatMap((kind) => {
    const info = servers[kind];
    return 'unavailable' in info ? [`${kind}: ${info.unavailable}`] : [];
  });
  const required = process.env.CI === 'true' || process.env.LARDER_REQUIRE_SERVERS === '1';
  if (missing.length > 0 && required) {
    await stop();
    throw new Error(
      `@larder/testkit: servers required (CI=true or LARDER_REQUIRE_SERVERS=1) but unavailable:\n${missing.join('\n')}`,
    );
  }
  const found = serverKinds.flatMap((kind) => {
    const info = servers[kind];
    return 'unavailable' in info ? [] : [`${kind} ${info.version} (${info.source})`];
  });
  console.log(`@larder/testkit: ${found.join(', ') || 'no servers'} in ${Date.now() - began} ms`);
  for (const line of missing) console.warn(`@larder/testkit: skipping ${line}`);
  project.provide('larderServers', servers);
  return stop;
}
