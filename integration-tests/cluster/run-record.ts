// What a namespace-cluster run made, written ahead of making it (run.json in the run's state dir), so
// that a run whose owner died — a crashed test, a killed `cli.js up` — can still be torn down
// completely, by another process, from this record alone.
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, startTicks } from './netns.js';

/** State dirs are `<tmp>/tessera-netns-<runId>`: the prefix lets a sweep find runs of dead owners. */
export const RUN_DIR_PREFIX = 'tessera-netns-';
export const RECORD_FILE = 'run.json';

export interface RecordedProcess {
  /** e.g. "agent1/serf". */
  name: string;
  pid: number;
  /** /proc start time, so that a reused pid is never signalled. */
  startTicks?: number;
}

export interface RunRecord {
  runId: string;
  ownerPid: number;
  ownerStartTicks?: number;
  baseDir: string;
  /** Every namespace the run may have made (written before making them). */
  namespaces: string[];
  /** Their inodes, once made: finds a process left in a namespace even after its name is deleted. */
  netnsInodes: number[];
  processes: RecordedProcess[];
  /**
   * Absolute cgroup dirs the agents may make (their --cgroups-root beneath the owner's own cgroup, in
   * every hierarchy): absolute, because a later `down` from another shell may sit in another cgroup.
   */
  cgroupDirs: string[];
  /** Agent ids seen so far; more are read from the agents' checkpoints (agent.json) at teardown. */
  agentIds: string[];
}

export function runDir(runId: string): string {
  return join(tmpdir(), `${RUN_DIR_PREFIX}${runId}`);
}

export async function saveRecord(record: RunRecord): Promise<void> {
  const file = join(record.baseDir, RECORD_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

export async function loadRecord(baseDir: string): Promise<RunRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(baseDir, RECORD_FILE), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

/** Whether the process that made the run is still there (same pid and same start time). */
export async function ownerAlive(record: RunRecord): Promise<boolean> {
  if (!(await alive(record.ownerPid))) return false;
  if (record.ownerStartTicks === undefined) return true;
  return (await startTicks(record.ownerPid)) === record.ownerStartTicks;
}

/** Every run record in the temp dir. */
export async function listRecords(): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const record = await loadRecord(join(tmpdir(), entry));
    if (record) records.push(record);
  }
  return records;
}
