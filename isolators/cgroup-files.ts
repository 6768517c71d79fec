// A cgroup is plain data turned into file writes: controllers map limits to {file, value} pairs and
// this one function writes them. Shared by cgroups v1 and v2.
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupFileWrite {
  file: string;
  value: string;
}

/** Writes each pair in order into `dir`; the first failure names the file and value. */
export async function writeCgroupFiles(dir: string, writes: readonly CgroupFileWrite[]): Promise<void> {
  for (const { file, value } of writes) {
    try {
      await writeFile(join(dir, file), value);
    } catch (err) {
      throw cgroupWriteError(dir, { file, value }, err);
    }
  }
}

/** The error of a failed limit write: names the file and value, keeps the errno error as its cause. */
export function cgroupWriteError(dir: string, write: CgroupFileWrite, err: unknown): Error {
  return new Error(`writing '${write.value}' to ${join(dir, write.file)}: ${(err as Error).message}`, { cause: err });
}

export async function readCgroupFile(dir: string, file: string): Promise<string> {
  return (await readFile(join(dir, file), 'utf8')).trim();
}

/** Whether a cgroup directory or file exists (cgroup files appear and vanish with their cgroup). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The errno code (ENOENT, EBUSY, …) of an error or of the first error in its cause chain: cgroup write
 * errors wrap the errno error (cgroupWriteError), and callers decide on the code beneath.
 */
export function errnoCode(err: unknown): string | undefined {
  let cur: unknown = err;
  while (cur instanceof Error) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    cur = cur.cause;
  }
  return undefined;
}

/** Parses flat keyed files (`cpu.stat`, `memory.stat`, `memory.events`, `memory.oom_control`). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, raw] = line.trim().split(/\s+/);
    if (key && raw !== undefined && /^-?\d+$/.test(raw)) values.set(key, Number(raw));
  }
  return values;
}

/** One line of /proc/<pid>/cgroup: `hierarchy-id:controllers:path`. */
export interface ProcCgroupEntry {
  id: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    entries.push({
      id: Number(match[1]),
      controllers: match[2] === '' ? [] : (match[2] ?? '').split(','),
      path: match[3] ?? '/',
    });
  }
  return entries;
}
