// Thin wrappers over ip(8), nsenter(1) and /proc for the namespace cluster.
//
// Processes enter a host's network namespace with `nsenter --net=/run/netns/NAME`, not
// `ip netns exec`: the latter also unshares the mount namespace and remounts /sys, which hides
// /sys/fs/cgroup — agents there could not make cgroups.
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink, stat } from 'node:fs/promises';

export const NETNS_DIR = '/run/netns';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its stderr when it fails. */
export function run(file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim() || error.message;
        reject(new Error(`${file} ${args.join(' ')}: ${detail}`, { cause: error }));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

export interface CaptureResult extends ExecResult {
  /** Exit code; -1 when the command could not be run or timed out. */
  code: number;
}

/** Runs a command inside a namespace to completion and reports how it went; never rejects. */
export function captureIn(ns: string, file: string, args: string[], timeoutMs = 60_000): Promise<CaptureResult> {
  return new Promise((resolve) => {
    execFile('nsenter', [`--net=${NETNS_DIR}/${ns}`, '--', file, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: error && code === -1 ? `${stderr}${error.message}` : stderr });
    });
  });
}

export function ip(...args: string[]): Promise<ExecResult> {
  return run('ip', args);
}

/** ip(8) inside a namespace (`ip -n NS …`). */
export function ipIn(ns: string, ...args: string[]): Promise<ExecResult> {
  return run('ip', ['-n', ns, ...args]);
}

/** The argv prefix that runs a command in a namespace's network (and only its network). */
export function inNetns(ns: string): string[] {
  return ['nsenter', `--net=${NETNS_DIR}/${ns}`, '--'];
}

/** Runs a command inside a namespace to completion. */
export function runIn(ns: string, file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
  const [nsenter, ...prefix] = inNetns(ns);
  return run(nsenter ?? 'nsenter', [...prefix, file, ...args], timeoutMs);
}

export async function listNetns(): Promise<string[]> {
  const entries = await readdir(NETNS_DIR).catch(() => [] as string[]);
  return entries.sort();
}

/** The namespace's inode: what /proc/PID/ns/net of a process inside it links to (`net:[INODE]`). */
export async function netnsInode(ns: string): Promise<number | undefined> {
  try {
    return (await stat(`${NETNS_DIR}/${ns}`)).ino;
  } catch {
    return undefined;
  }
}

/**
 * Every process whose network namespace is one of these inodes. Unlike `ip netns pids`, this also
 * finds processes in a namespace whose name was already deleted.
 */
export async function pidsInNetns(inodes: ReadonlySet<number>): Promise<number[]> {
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const link = await readlink(`/proc/${entry}/ns/net`).catch(() => '');
    const match = /^net:\[(\d+)\]$/.exec(link);
    if (match && inodes.has(Number(match[1]))) pids.push(Number(entry));
  }
  return pids;
}

/** Whether a process exists (and is not a zombie waiting to be reaped). */
export async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const status = await readlink(`/proc/${pid}/exe`).then(() => 'live').catch((err: NodeJS.ErrnoException) => err.code ?? 'live');
  // A zombie has no exe link (ENOENT); anything else (EACCES…) means it is there.
  return status !== 'ENOENT';
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): tells a reused pid apart. */
export async function startTicks(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const value = Number(fields[19]);
  return Number.isFinite(value) ? value : undefined;
}

export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}
