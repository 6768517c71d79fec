// Tears a namespace-cluster run down from its record, and lists what is left of it. Order: agents get
// SIGTERM first (their own clean-up), then everything else; then SIGKILL for stragglers, every
// process still inside one of the run's namespaces, the namespaces (which takes the veths and the
// bridge with them), the agents' containers and cgroups, the state dir.
import { readFile, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../harness/wait.js';
import { alive, ip, listNetns, pidsInNetns, signal, startTicks } from './netns.js';
import type { RecordedProcess, RunRecord } from './run-record.js';

const DOCKER_SOCKET = '/var/run/docker.sock';

export interface TeardownOptions {
  /** How long SIGTERMed processes get before SIGKILL; default 10 s. */
  graceMs?: number;
  /** Keep the state dir (logs, work dirs) for a post-mortem; run.json is removed all the same. */
  keepDir?: boolean;
  progress?: (message: string) => void;
}

/** The recorded process if it is still the same process (pid not reused). */
async function stillOurs(proc: RecordedProcess): Promise<boolean> {
  if (!(await alive(proc.pid))) return false;
  return proc.startTicks === undefined || (await startTicks(proc.pid)) === proc.startTicks;
}

/**
 * Signals a recorded process's group (each was started as a group leader). Once the leader is gone a
 * pid cannot be reused while its group still exists, so the group is signalled even then; a leader
 * that is alive but another process (pid reused) is left alone.
 */
async function signalGroup(proc: RecordedProcess, name: NodeJS.Signals): Promise<void> {
  if ((await alive(proc.pid)) && !(await stillOurs(proc))) return;
  if (!signal(-proc.pid, name)) signal(proc.pid, name);
}

async function groupGone(proc: RecordedProcess): Promise<boolean> {
  try {
    process.kill(-proc.pid, 0);
  } catch {
    return !(await stillOurs(proc));
  }
  return false;
}

async function stopProcesses(procs: RecordedProcess[], graceMs: number): Promise<void> {
  if (procs.length === 0) return;
  for (const proc of procs) await signalGroup(proc, 'SIGTERM');
  const gone = async (): Promise<boolean> => (await Promise.all(procs.map(groupGone))).every(Boolean);
  const stopped = await waitFor('processes to exit', async () => ((await gone()) ? true : undefined), graceMs, 100).catch(() => false);
  if (stopped) return;
  for (const proc of procs) await signalGroup(proc, 'SIGKILL');
  await waitFor('killed processes to exit', async () => ((await gone()) ? true : undefined), 5_000, 50).catch(() => undefined);
}

/** Agent ids from the record and from every agent's checkpoint (agent.json) under the state dir. */
async function agentIds(record: RunRecord): Promise<string[]> {
  const ids = new Set(record.agentIds);
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 4) return;
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, depth + 1);
      else if (entry.name === 'agent.json') {
        const id = await readFile(path, 'utf8').then((t) => (JSON.parse(t) as { agent_id?: unknown }).agent_id).catch(() => undefined);
        if (typeof id === 'string') ids.add(id);
      }
    }
  };
  await walk(record.baseDir, 0);
  return [...ids];
}

interface DockerLike {
  ping(): Promise<unknown>;
  listContainers(options: { all: boolean; filters: { label: string[] } }): Promise<Array<{ Id: string; Names?: string[] }>>;
  getContainer(id: string): { remove(options: { force: boolean }): Promise<unknown> };
}

async function docker(): Promise<DockerLike | undefined> {
  const { default: Docker } = await import('dockerode');
  const client = new Docker({ socketPath: DOCKER_SOCKET });
  try {
    await client.ping();
    return client;
  } catch {
    return undefined;
  }
}

async function containersOf(client: DockerLike, ids: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const id of ids) {
    const list = await client.listContainers({ all: true, filters: { label: [`tessera.agent_id=${id}`] } });
    found.push(...list.map((c) => c.Id));
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Kills what is in a cgroup tree and removes it, deepest first. */
async function removeCgroupTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const entry of entries) if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  await waitFor(`rmdir ${dir}`, async () => {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) signal(Number(pid), 'SIGKILL');
    try {
      await rmdir(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code === 'EBUSY') return undefined;
      throw err;
    }
  }, 10_000, 50);
}

export async function teardownRun(record: RunRecord, options: TeardownOptions = {}): Promise<void> {
  const progress = options.progress ?? ((): void => undefined);
  const graceMs = options.graceMs ?? 10_000;
  const isAgent = (p: RecordedProcess): boolean => /^agent\d*\/agent$/.test(p.name);
  progress('stopping agents');
  await stopProcesses(record.processes.filter(isAgent), graceMs);
  progress('stopping the other processes');
  await stopProcesses(record.processes.filter((p) => !isAgent(p)), graceMs);

  // Whatever still lives in the run's namespaces (task processes, a process started by hand).
  const inodes = new Set(record.netnsInodes);
  await waitFor('the namespaces to be empty', async () => {
    const pids = await pidsInNetns(inodes);
    for (const pid of pids) signal(pid, 'SIGKILL');
    return pids.length === 0 ? true : undefined;
  }, 10_000, 100);

  progress('deleting namespaces');
  const present = new Set(await listNetns());
  for (const ns of record.namespaces) if (present.has(ns)) await ip('netns', 'del', ns).catch(() => undefined);

  progress('removing containers and cgroups');
  // Kept in the record (the caller's object): findLeftovers() checks them after the dir is gone.
  record.agentIds = await agentIds(record);
  const client = await docker();
  if (client) {
    for (const id of await containersOf(client, record.agentIds)) {
      await client.getContainer(id).remove({ force: true }).catch(() => undefined);
    }
  }
  for (const dir of record.cgroupDirs) await removeCgroupTree(dir);

  if (options.keepDir) await rm(join(record.baseDir, 'run.json'), { force: true });
  else await rm(record.baseDir, { recursive: true, force: true });
}

/** What of a run still exists: one line per leftover; empty when it is all gone. */
export async function findLeftovers(record: RunRecord, options: { ignoreDir?: boolean } = {}): Promise<string[]> {
  const left: string[] = [];
  const netns = new Set(await listNetns());
  for (const ns of record.namespaces) if (netns.has(ns)) left.push(`namespace ${ns}`);
  for (const pid of await pidsInNetns(new Set(record.netnsInodes))) left.push(`process ${pid} in a namespace of run ${record.runId}`);
  for (const proc of record.processes) if (await stillOurs(proc)) left.push(`process ${proc.name} (pid ${proc.pid})`);
  // Nothing of a run is ever made in the root namespace; a link named after the run would be a leak.
  const links = (await ip('-o', 'link', 'show')).stdout.split('\n').filter((l) => l.includes(record.runId));
  for (const link of links) left.push(`root-namespace link ${link.trim().slice(0, 80)}`);
  for (const dir of record.cgroupDirs) if (await exists(dir)) left.push(`cgroup ${dir}`);
  const client = await docker();
  if (client) for (const id of await containersOf(client, record.agentIds)) left.push(`container ${id.slice(0, 12)}`);
  if (!options.ignoreDir && (await exists(record.baseDir))) left.push(`state dir ${record.baseDir}`);
  return left;
}
