import { describe, inject, it } from 'vitest';
import type { ServerKind } from './handle.js';
import type {} from './provided-context.js';
import type { ServerInfo } from './servers.js';

/** A shared server as a test sees it. */
export interface SharedServer {
  url: string;
  version: string;
  source: 'env' | 'local' | 'container';
}

const setupPath = 'packages/testkit/src/vitest-global-setup.ts';

/** The shared server of `kind` from the global setup, or why there is none. */
export function serverInfo(kind: ServerKind): ServerInfo {
  const servers = inject('larderServers');
  if (!servers) {
    return { unavailable: `no larderServers were provided: add ${setupPath} to test.globalSetup` };
  }
  return servers[kind];
}

/** The shared server of `kind`; throws with the reason when it is unavailable. */
export function useServer(kind: ServerKind): SharedServer {
  const info = serverInfo(kind);
  if ('unavailable' in info) throw new Error(`${kind} is unavailable: ${info.unavailable}`);
  return info;
}

/** `describe(name, fn)` with the shared server of `kind`, or a skipped suite that prints why it is missing. */
export function describeWithServer(kind: ServerKind, name: string, fn: (server: SharedServer) => void): void {
  const info = serverInfo(kind);
  if ('unavailable' in info) {
    describe.skip(name, () => {
      it(`needs ${kind}: ${info.unavailable}`, () => {});
    });
    return;
  }
  describe(name, () => fn(info));
}
