// Which cgroup version this host offers, from /proc/self/mountinfo (DESIGN.md §Isolation), and this
// process's own place in each hierarchy, from /proc/self/cgroup. The parsers take text so they can be
// unit-tested; the readers are thin.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProcCgroup } from './cgroup-files.js';

export type CgroupVersion = 'v1' | 'v2' | 'none';

/** Controllers a cgroups isolator needs: limits (memory, cpu, pids) and accounting (cpuacct on v1). */
export const REQUIRED_V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
export const REQUIRED_V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;

export const DEFAULT_CGROUP_MOUNT = '/sys/fs/cgroup';

/** One line of /proc/<pid>/mountinfo (the fields we use). */
export interface MountinfoEntry {
  /** The mount's root within its filesystem ('/' unless a bind mount or a cgroup namespace). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string[];
}

// mountinfo escapes space, tab, newline and backslash as octal (\040).
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const entries: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    // Optional fields end at a lone '-'; after it come fstype, source, super options.
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    entries.push({
      root: unescapeMountinfo(fields[3] ?? '/'),
      mountPoint: unescapeMountinfo(fields[4] ?? ''),
      fsType: fields[dash + 1] ?? '',
      source: unescapeMountinfo(fields[dash + 2] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return entries;
}

/** The cgroup v1 mounts by controller (only real controllers, not `name=systemd`). */
export function v1ControllerMounts(entries: readonly MountinfoEntry[]): Map<string, MountinfoEntry> {
  const mounts = new Map<string, MountinfoEntry>();
  for (const entry of entries) {
    if (entry.fsType !== 'cgroup') continue;
    for (const option of entry.superOptions) {
      // Super options mix controllers with flags such as rw, name=…, clone_children.
      if (option === 'rw' || option === 'ro' || option.includes('=') || option === 'clone_children') continue;
      if (!mounts.has(option)) mounts.set(option, entry);
    }
  }
  return mounts;
}

/**
 * Pure decision: 'v2' when `mountPoint` is a cgroup2 mount whose root offers memory, cpu and pids
 * (`v2Controllers` is the text of its cgroup.controllers, undefined if unreadable); 'v1' when the
 * v1 hierarchies memory, cpu, cpuacct and pids are all mounted; else 'none'. A hybrid host (v1
 * hierarchies plus an empty cgroup2 at /sys/fs/cgroup/unified) is v1.
 */
export function classifyCgroups(
  mountinfo: string,
  v2Controllers: string | undefined,
  mountPoint: string = DEFAULT_CGROUP_MOUNT,
): CgroupVersion {
  const entries = parseMountinfo(mountinfo);
  const v2 = entries.find((e) => e.fsType === 'cgroup2' && e.mountPoint === mountPoint);
  if (v2 && v2Controllers !== undefined) {
    const available = new Set(v2Controllers.trim().split(/\s+/));
    if (REQUIRED_V2_CONTROLLERS.every((c) => available.has(c))) return 'v2';
  }
  const v1 = v1ControllerMounts(entries);
  if (REQUIRED_V1_CONTROLLERS.every((c) => v1.has(c))) return 'v1';
  return 'none';
}

export async function detectCgroupVersion(
  options: { mountinfoPath?: string; mountPoint?: string } = {},
): Promise<CgroupVersion> {
  const mountPoint = options.mountPoint ?? DEFAULT_CGROUP_MOUNT;
  let mountinfo: string;
  try {
    mountinfo = await readFile(options.mountinfoPath ?? '/proc/self/mountinfo', 'utf8');
  } catch {
    return 'none'; // not Linux, or /proc is not mounted
  }
  let controllers: string | undefined;
  try {
    controllers = await readFile(join(mountPoint, 'cgroup.controllers'), 'utf8');
  } catch {
    controllers = undefined;
  }
  return classifyCgroups(mountinfo, controllers, mountPoint);
}

/**
 * This process's own cgroup path per v1 controller (`memory` → `/process_api/<id>`), and under the
 * key '' the cgroup2 path (the `0::/path` line). Pure: takes the text of /proc/self/cgroup.
 */
export function ownCgroupPaths(procSelfCgroup: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const entry of parseProcCgroup(procSelfCgroup)) {
    if (entry.id === 0 && entry.controllers.length === 0) {
      paths.set('', entry.path);
      continue;
    }
    for (const controller of entry.controllers) paths.set(controller, entry.path);
  }
  return paths;
}

export async function readOwnCgroupPaths(procSelfCgroupPath = '/proc/self/cgroup'): Promise<Map<string, string>> {
  return ownCgroupPaths(await readFile(procSelfCgroupPath, 'utf8'));
}
