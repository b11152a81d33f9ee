import { Socket } from 'node:net';
import { CacheUnavailableError } from '@larder/core';
import {
  type DoctorCheck,
  type DoctorReport,
  fail,
  hitRateCheck,
  LIMITS,
  memoryCheck,
  pass,
  unknown,
  warn,
} from './check.js';
import type { Target } from './target.js';

/** Sends text-protocol commands on one plain socket and returns each reply's `STAT name value` lines. */
export async function memcachedStats(
  target: Target,
  commands: string[],
  timeoutMs = 3000,
): Promise<Map<string, string>[]> {
  const socket = new Socket();
  socket.setTimeout(timeoutMs);
  try {
    return await new Promise((resolve, reject) => {
      const replies: Map<string, string>[] = [];
      let current = new Map<string, string>();
      let buffer = '';
      const failWith = (reason: string) =>
        reject(
          new CacheUnavailableError(
            `cannot reach memcached at ${target.host}:${target.port} (${reason}); check the host, the port and that the server runs`,
          ),
        );
      socket.on('error', (error) => failWith(error.message));
      socket.on('timeout', () => failWith(`no answer within ${timeoutMs} ms`));
      socket.on('close', () => {
        if (replies.length < commands.length) failWith('the server closed the connection');
      });
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1');
        let end = buffer.indexOf('\r\n');
        while (end !== -1) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (line.startsWith('STAT ')) {
            const [, name = '', ...value] = line.split(' ');
            current.set(name, value.join(' '));
          } else if (line === 'END') {
            replies.push(current);
            current = new Map();
            if (replies.length === commands.length) resolve(replies);
          } else if (/ERROR/.test(line)) {
            replies.push(new Map([['error', line]]));
            if (replies.length === commands.length) resolve(replies);
          }
          end = buffer.indexOf('\r\n');
        }
      });
      socket.connect(target.port, target.host, () => socket.write(commands.map((c) => `${c}\r\n`).join('')));
    });
  } finally {
    socket.destroy();
  }
}

/** Reads a live memcached (`stats`, `stats settings`) and judges it against the checklist. */
export async function doctorMemcached(target: Target): Promise<DoctorReport> {
  const [stats = new Map(), settings = new Map()] = await memcachedStats(target, ['stats', 'stats settings']);
  const num = (map: Map<string, string>, name: string) => (map.has(name) ? Number(map.get(name)) : undefined);
  const version = stats.get('version');
  const checks: DoctorCheck[] = [
    hitRateCheck(num(stats, 'get_hits'), num(stats, 'get_misses')),
    evictions(num(stats, 'evictions')),
    memory(num(stats, 'bytes'), num(stats, 'limit_maxbytes')),
    connections(
      num(stats, 'curr_connections'),
      num(stats, 'max_connections') ?? num(settings, 'maxconns'),
      num(stats, 'rejected_connections'),
      num(stats, 'listen_disabled_num'),
    ),
    sasl(
      settings.get('auth_enabled_sasl') ?? settings.get('sasl'),
      settings.get('auth_enabled_ascii'),
      settings.get('inter'),
    ),
  ];
  return { target: target.shown, kind: 'memcached', version, checks };
}

function evictions(count: number | undefined): DoctorCheck {
  if (count === undefined) return unknown('evictions', 'stats has no evictions');
  return pass(
    'evictions',
    `${count} items evicted since start${count > 0 ? ' (an LRU cache making room)' : ''}`,
  );
}

function memory(used: number | undefined, limit: number | undefined): DoctorCheck {
  if (used === undefined || limit === undefined || limit === 0)
    return unknown('memory', 'stats has no bytes / limit_maxbytes');
  return memoryCheck(used, limit, 'raise -m or store less');
}

function connections(
  current: number | undefined,
  max: number | undefined,
  rejected: number | undefined,
  disabled: number | undefined,
): DoctorCheck {
  if (current === undefined || max === undefined)
    return unknown('connections', 'stats has no curr_connections / max_connections');
  // memcached 1.6 refuses extra connections (rejected_connections); older ones stop listening (listen_disabled_num).
  const read = `${current} of ${max} connections, ${rejected ?? 'unknown'} rejected, listen_disabled_num ${disabled ?? 'unknown'}`;
  if ((rejected ?? 0) > 0 || (disabled ?? 0) > 0) {
    return fail(
      'connections',
      read,
      'memcached hit its connection limit and turned clients away; raise -c or shrink the clients’ pools',
    );
  }
  if (current / max >= LIMITS.connectionsWarn)
    return warn('connections', read, 'near the limit; raise -c or shrink the clients’ pools');
  return pass('connections', read);
}

function sasl(value: string | undefined, ascii: string | undefined, listen: string | undefined): DoctorCheck {
  if (value === undefined) return unknown('sasl', 'stats settings has no auth_enabled_sasl');
  if (value === 'yes') return pass('sasl', 'SASL authentication on');
  if (ascii === 'yes') return pass('sasl', 'text-protocol authentication on');
  const read = `SASL off, listening on ${listen ?? 'unknown'}`;
  return listen !== undefined && /^(127\.[\d.]+|::1|localhost)(,(127\.[\d.]+|::1|localhost))*$/.test(listen)
    ? pass('sasl', `${read} (loopback only)`)
    : warn(
        'sasl',
        read,
        'anyone who reaches the port reads and writes: listen on a private interface only (-l) or enable SASL (-S)',
      );
}
