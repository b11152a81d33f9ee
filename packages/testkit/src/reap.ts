import { pathToFileURL } from 'node:url';
import { listStartedServers, removeEntry, type StartedServer } from './registry.js';

/**
 * Finds servers the testkit started whose owner process is gone and kills them (a backstop for the
 * watchdogs); returns every server that was still running, with `reaped` telling which were killed.
 */
export function reapOrphans(): (StartedServer & { reaped: boolean })[] {
  const report: (StartedServer & { reaped: boolean })[] = [];
  for (const server of listStartedServers()) {
    if (!server.running) {
      removeEntry(server.id);
      continue;
    }
    let ownerAlive = true;
    try {
      process.kill(server.ownerPid, 0);
    } catch {
      ownerAlive = false;
    }
    if (!ownerAlive) {
      for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
        try {
          process.kill(-server.pid, signal);
        } catch {
          // gone, or not a group leader
        }
      }
    }
    report.push({ ...server, reaped: !ownerAlive });
  }
  return report;
}

// `node dist/reap.js`: lists running testkit servers, kills orphans, exits 1 if any owned one is still running
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = reapOrphans();
  for (const server of report) {
    const what = server.reaped ? 'killed orphan' : `running, owned by pid ${server.ownerPid}`;
    console.log(`${server.kind} pid ${server.pid} port ${server.port} ${server.dir}: ${what}`);
  }
  if (report.length === 0) console.log('no testkit servers are running');
  process.exitCode = report.some((server) => !server.reaped) ? 1 : 0;
}
