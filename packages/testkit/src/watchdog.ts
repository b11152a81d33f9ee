import { spawn } from 'node:child_process';

// Polls the owner every 0.5 s; once it is gone (or a zombie), kills the server's whole process group
// and children (SIGCONT first, in case they were paused) and removes its dir and registry entry.
const script = `
owner="$1"; pidfile="$2"; dir="$3"; entry="$4"
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.Z' "/proc/$1/status" 2>/dev/null; }
while alive "$owner"; do sleep 0.5; done
pid=$(cat "$pidfile" 2>/dev/null)
if [ -n "$pid" ]; then
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
  kill -CONT -"$pid" "$pid" $kids 2>/dev/null; kill -KILL -"$pid" "$pid" $kids 2>/dev/null
  i=0; while alive "$pid" && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
fi
rm -rf "$dir" "$entry"
`;

/**
 * Starts a detached shell that outlives a SIGKILLed owner and then kills the server whose pid
 * is in `pidFile` and removes `dir`: orphaned servers cannot survive the test run.
 */
export function startWatchdog(
  pidFile: string,
  dir: string,
  entryFile: string,
  ownerPid = process.pid,
): number {
  const child = spawn(
    '/bin/sh',
    ['-c', script, 'larder-testkit-watchdog', String(ownerPid), pidFile, dir, entryFile],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the testkit watchdog (/bin/sh)');
  return child.pid;
}
