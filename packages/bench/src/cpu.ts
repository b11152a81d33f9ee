import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPU counters at one instant, in clock ticks (Linux /proc). */
export interface CpuSnapshot {
  /** Busy ticks of the whole machine, all CPUs. */
  busy: number;
  /** Busy + idle ticks of the whole machine, all CPUs. */
  total: number;
  /** Ticks used by this process. */
  self: number;
  /** Ticks used by the servers the bench started (and their direct children, e.g. Postgres backends). */
  ours: number;
}

/** Parses the aggregate `cpu` line of /proc/stat into busy and total ticks. */
export function parseProcStat(text: string): { busy: number; total: number } | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Parses /proc/<pid>/stat into the parent pid and user+system ticks (the name may hold spaces). */
export function parsePidStat(text: string): { ppid: number; ticks: number } | undefined {
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  // Fields after the name: state(3) ppid(4) ... utime(14) stime(15)
  const fields = text.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { ppid, ticks } : undefined;
}

function readPid(pid: number | 'self'): { ppid: number; ticks: number } | undefined {
  try {
    return parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Reads the counters now; undefined where /proc is not available (then the busy flag is never set). */
export function sampleCpu(serverPids: readonly number[]): CpuSnapshot | undefined {
  let machine: { busy: number; total: number } | undefined;
  try {
    machine = parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
  const self = readPid('self');
  if (machine === undefined || self === undefined) return undefined;
  let ours = 0;
  if (serverPids.length > 0) {
    const roots = new Set(serverPids);
    let entries: string[] = [];
    try {
      entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    } catch {
      // no /proc listing: count the servers themselves only
    }
    for (const pid of roots) ours += readPid(pid)?.ticks ?? 0;
    for (const name of entries) {
      const pid = Number(name);
      if (roots.has(pid)) continue;
      const stat = readPid(pid);
      if (stat !== undefined && roots.has(stat.ppid)) ours += stat.ticks;
    }
  }
  return { busy: machine.busy, total: machine.total, self: self.ticks, ours };
}

/**
 * CPU used by everything except this process and its servers between two samples, in cores
 * (0.5 = half a CPU on average). Counters of restarted servers can go backwards; never below 0.
 */
export function otherCpuCores(
  before: CpuSnapshot | undefined,
  after: CpuSnapshot | undefined,
  cores = availableParallelism(),
): number {
  if (before === undefined || after === undefined) return 0;
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const others =
    after.busy - before.busy - (after.self - before.self) - Math.max(0, after.ours - before.ours);
  return Math.max(0, (others / total) * cores);
}

/** Above this many cores of other work, a case is flagged as measured on a busy machine. */
export const BUSY_CORES = 0.25;
