// A cgroup is plain data turned into file writes: controllers map limits to {file, value} pairs and
// this one function writes them. Shared by cgroups v1 and v2.
import { readFile, writeFile } from 'node:fs/promises';
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
      throw new Error(`writing '${value}' to ${join(dir, file)}: ${(err as Error).message}`, { cause: err });
    }
  }
}

export async function readCgroupFile(dir: string, file: string): Promise<string> {
  return (await readFile(join(dir, file), 'utf8')).trim();
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
