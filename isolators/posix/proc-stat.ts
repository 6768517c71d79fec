// /proc/<pid>/stat: the CPU times of a process (and its reaped children) without cgroups.
import { readFile } from 'node:fs/promises';

export interface ProcStat {
  state: string;
  /** Own user + system time plus that of reaped children, in clock ticks (USER_HZ). */
  userTicks: number;
  systemTicks: number;
  pgrp: number;
}

/** Pure: the fields after the last ')' (the command name may itself contain ') ' and spaces). */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // rest[0] is field 3 (state); utime, stime, cutime, cstime are fields 14–17; pgrp is field 5.
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number): number => Number(rest[n - 3]);
  const values = [field(14), field(15), field(16), field(17), field(5)];
  if (values.some((v) => !Number.isFinite(v)) || rest[0] === undefined) return undefined;
  return {
    state: rest[0],
    userTicks: field(14) + field(16),
    systemTicks: field(15) + field(17),
    pgrp: field(5),
  };
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone (or not Linux)
  }
}

/** Alive and not a zombie waiting to be reaped. */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X';
  try {
    process.kill(pid, 0); // no /proc: ask the kernel
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
