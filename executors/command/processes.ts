// Checks and signals for the wrapper process by pid, safe against pid reuse: a pid counts as our
// wrapper only while its /proc/<pid>/cmdline carries the container's marker.
import { readFile } from 'node:fs/promises';
import { WRAPPER_NAME_PREFIX } from './wrapper.js';

/** True while `pid` is the (not yet exited) wrapper of `containerId`. A zombie has no cmdline: false. */
export async function isWrapperAlive(pid: number | undefined, containerId: string): Promise<boolean> {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  return cmdline.split('\0').includes(`${WRAPPER_NAME_PREFIX}${containerId}`);
}

/**
 * Sends `signal` to the wrapper's process group (the task and what it forked), but only while `pid`
 * is still our wrapper: a reused pid's group is someone else's.
 */
export async function signalWrapperGroup(
  pid: number | undefined,
  containerId: string,
  signal: NodeJS.Signals,
): Promise<void> {
  if (pid !== undefined && (await isWrapperAlive(pid, containerId))) signalQuietly(-pid, signal);
}

/** Sends `signal` to a pid (or, negative, a process group); a process already gone is not an error. */
export function signalQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
