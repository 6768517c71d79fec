// cgroupfs reads, existence checks, mkdirs and limit writes done synchronously. cgroupfs is kernel memory, never a
// disk: each of these takes microseconds (measured here: the 5 mkdirs of a container 0.15 ms, its
// limits 0.09 ms), far less than the thread-pool round trips of the asynchronous calls (a read is
// open, fstat, read, close), which made up much of the agent's time per task on a busy host.
// Moving a process (cgroup.procs) and rmdir stay asynchronous: they can wait on kernel locks.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupWriteError, type CgroupFileWrite } from '../cgroup-files.js';

/** A cgroup file's trimmed text; rejects (ENOENT, …) like an asynchronous read would. */
export async function readCgroupFileNow(dir: string, file: string): Promise<string> {
  return readFileSync(join(dir, file), 'utf8').trim();
}

/** Whether a cgroup directory or file exists. */
export async function existsNow(path: string): Promise<boolean> {
  return existsSync(path);
}

/** Makes one cgroup directory (not recursive); rejects with the errno error (EEXIST, …). */
export async function mkdirNow(dir: string): Promise<void> {
  mkdirSync(dir);
}

/** The writes in order, stopping at the first failure (as writeCgroupFiles does). */
export async function writeCgroupFilesNow(dir: string, writes: readonly CgroupFileWrite[]): Promise<void> {
  for (const { file, value } of writes) {
    try {
      writeFileSync(join(dir, file), value);
    } catch (err) {
      throw cgroupWriteError(dir, { file, value }, err);
    }
  }
}
