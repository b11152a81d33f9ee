import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { sleep } from '@larder/testkit/helpers';

/** Helpers only the memcached tests need; the shared ones come from `@larder/testkit/helpers`. */

/** Reads `stats` over the text protocol on a connection of its own (not through the store under test). */
export function serverStats(host: string, port: number): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('stats timed out'));
    }, 2000);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('connect', () => socket.write('stats\r\n'));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (!text.endsWith('END\r\n')) return;
      clearTimeout(timer);
      socket.destroy();
      const stats: Record<string, string> = {};
      for (const line of text.split('\r\n')) {
        const [tag, name, value] = line.split(' ');
        if (tag === 'STAT' && name !== undefined && value !== undefined) stats[name] = value;
      }
      resolve(stats);
    });
  });
}

/** Opens `count` idle connections (to push memcached to its `-c` limit); resolves once all are connected. */
export async function idleSockets(host: string, port: number, count: number): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(port, host);
          socket.on('error', () => {});
          socket.on('connect', () => resolve(socket));
          socket.on('close', () => resolve(socket));
        }),
    ),
  );
  return sockets;
}

/**
 * Resolves once every thread of `pid` is stopped: SIGSTOP is delivered asynchronously, and a
 * request sent right after `pause()` can still be answered on a busy machine.
 */
export async function waitStopped(pid: number | undefined, limitMs = 2000): Promise<void> {
  if (pid === undefined) throw new Error('the server has no local pid; fault tests need a private server');
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const tasks = readdirSync(`/proc/${pid}/task`);
    const states = tasks.map((task) => {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'latin1');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    });
    if (states.every((state) => state === 'T' || state === 't')) return;
    await sleep(5);
  }
  throw new Error(`process ${pid} did not stop within ${limitMs} ms`);
}
