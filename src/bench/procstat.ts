// CPU time from Linux's /proc: a whole process, one of its threads (the main thread's tid is the
// pid), or the children a shell has waited for. Clock ticks are 1/100 s on every Linux we run on.

import { readFileSync } from 'node:fs';

export const CLK_TCK = 100;

export interface StatTicks {
  /** User and system ticks of the process or thread itself. */
  utime: number;
  stime: number;
  /** Ticks of children it has waited for. */
  cutime: number;
  cstime: number;
}

/** Fields 14-17 of a /proc/PID/stat line; the command name (field 2) may hold spaces and parentheses. */
export function parseStat(line: string): StatTicks {
  const close = line.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc stat line: '${line.slice(0, 80)}'`);
  const f = line.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state), so field n is f[n - 3].
  const n = (field: number) => {
    const v = Number(f[field - 3]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`/proc stat field ${field} is '${f[field - 3]}', not a tick count`);
    return v;
  };
  return { utime: n(14), stime: n(15), cutime: n(16), cstime: n(17) };
}

/** CPU seconds (user + system) of a process, or of one of its threads with `tid`; undefined when gone or not Linux. */
export function cpuSeconds(pid: number, tid?: number): number | undefined {
  try {
    const s = parseStat(readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8'));
    return (s.utime + s.stime) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** A server process's CPU: all threads and the main thread (tid == pid). */
export interface ServerCpu {
  all: number;
  main: number;
}

export function serverCpu(pid: number | undefined): ServerCpu | undefined {
  if (pid === undefined) return undefined;
  const all = cpuSeconds(pid);
  const main = cpuSeconds(pid, pid);
  return all === undefined || main === undefined ? undefined : { all, main };
}

/** µs of CPU per request between two samples; null when either is missing or nothing was answered. */
export function usPerRequest(before: number | undefined, after: number | undefined, requests: number): number | null {
  if (before === undefined || after === undefined || !(requests > 0)) return null;
  return ((after - before) * 1e6) / requests;
}
