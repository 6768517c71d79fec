// Where the v2 hierarchy is and where this process sits in it, and turning controllers on along the
// path down to the containers' parent. Everything is made beneath this process's own cgroup.
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/index.js';
import { errnoCode, readCgroupFile } from '../cgroup-files.js';
import { ownCgroupPaths, parseMountinfo } from '../detect.js';
import { IsolatorError } from '../errors.js';
import type { ControllerName } from './controller.js';

/** The first cgroup2 mount in a /proc/self/mountinfo text, with the cgroup path at its root. */
export function parseCgroup2Mount(mountinfo: string): { mountPoint: string; root: string } | undefined {
  const mount = parseMountinfo(mountinfo).find((entry) => entry.fsType === 'cgroup2');
  return mount && { mountPoint: mount.mountPoint, root: mount.root };
}

/** The path of the v2 ("0::") line of a /proc/<pid>/cgroup text. */
export function ownV2Path(procCgroup: string): string | undefined {
  return ownCgroupPaths(procCgroup).get('');
}

/**
 * `procSelfCgroup` is either the text of /proc/self/cgroup (tests) or a path to read it from.
 * Defaults to the real file.
 */
export async function readProcSelfCgroup(procSelfCgroup: string | undefined): Promise<string> {
  if (procSelfCgroup !== undefined && /^\d+:/.test(procSelfCgroup)) return procSelfCgroup;
  return readFile(procSelfCgroup ?? '/proc/self/cgroup', 'utf8');
}

export async function findCgroup2Mount(): Promise<{ mountPoint: string; root: string } | undefined> {
  try {
    return parseCgroup2Mount(await readFile('/proc/self/mountinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Splits a --cgroups-root value into path segments; refuses anything that could leave our cgroup. */
export function cgroupsRootSegments(cgroupsRoot: string): string[] {
  const segments = cgroupsRoot.split('/').filter((s) => s !== '');
  if (segments.length === 0 || segments.some((s) => s === '.' || s === '..')) {
    throw new IsolatorError('CGROUP_SETUP_FAILED', `invalid cgroups root '${cgroupsRoot}': want a relative path like 'tessera'`);
  }
  return segments;
}

async function mkdirIfMissing(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}

/**
 * Turns on the controllers not yet on in `dir`'s cgroup.subtree_control, in one write so it is all or
 * nothing: enabling a threaded controller (cpu, pids) alone in a cgroup with processes succeeds and
 * turns it into a thread root, where the domain controller (memory) is then refused with EOPNOTSUPP.
 * Errors keep their errno in the cause.
 */
export async function enableControllers(dir: string, controllers: readonly ControllerName[]): Promise<void> {
  const enabled = new Set((await readCgroupFile(dir, 'cgroup.subtree_control')).split(/\s+/));
  const missing = controllers.filter((name) => !enabled.has(name));
  if (missing.length === 0) return;
  const file = join(dir, 'cgroup.subtree_control');
  try {
    await writeFile(file, missing.map((name) => `+${name}`).join(' '));
  } catch (err) {
    throw new Error(`enabling ${missing.join(', ')} in ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The errors of enabling controllers in a cgroup that holds processes (see enableControllers). */
function heldByProcesses(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'EBUSY' || code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}

export interface PrepareTreeOptions {
  mountPoint: string;
  ownPath: string;
  segments: readonly string[];
  controllers: readonly ControllerName[];
  logger: Logger;
  pid?: number;
}

/**
 * Makes <own>/<segments…> with the controllers enabled at every level and returns its directory.
 * cgroups v2 forbids processes in a non-root cgroup whose controllers are delegated ("no internal
 * processes"), so when our own cgroup holds us, we move this process (only) into a leaf
 * `<own>/<first segment>.agent` and try again.
 */
export async function prepareTree(options: PrepareTreeOptions): Promise<string> {
  const { mountPoint, ownPath, segments, controllers } = options;
  const ownDir = join(mountPoint, ownPath);
  const available = new Set((await readCgroupFile(ownDir, 'cgroup.controllers')).split(/\s+/));
  const missing = controllers.filter((c) => !available.has(c));
  if (missing.length > 0) {
    throw new IsolatorError(
      'NO_CGROUPS',
      `cgroup v2 controllers ${missing.join(', ')} are not available in ${ownDir} (cgroup.controllers: '${[...available].join(' ')}')`,
    );
  }

  try {
    await enableControllers(ownDir, controllers);
  } catch (err) {
    if (!heldByProcesses(err)) throw setupFailed(err);
    await moveSelfToLeaf(options, ownDir, err);
  }

  let dir = ownDir;
  for (const segment of segments) {
    dir = join(dir, segment);
    try {
      await mkdirIfMissing(dir);
      await enableControllers(dir, controllers);
    } catch (err) {
      throw setupFailed(err);
    }
  }
  return dir;
}

async function moveSelfToLeaf(options: PrepareTreeOptions, ownDir: string, firstError: unknown): Promise<void> {
  const pid = options.pid ?? process.pid;
  const first = options.segments[0] ?? 'tessera';
  const leaf = join(ownDir, `${first}.agent`);
  try {
    await mkdirIfMissing(leaf);
    await writeFile(join(leaf, 'cgroup.procs'), String(pid));
    options.logger.warn({ from: ownDir, to: leaf, pid }, 'moved this process into a leaf cgroup so controllers can be delegated');
    await enableControllers(ownDir, options.controllers);
  } catch (err) {
    // Put things back as they were: the agent stays where it was started.
    await writeFile(join(ownDir, 'cgroup.procs'), String(pid)).catch(() => undefined);
    await rmdir(leaf).catch(() => undefined);
    throw new IsolatorError(
      'CGROUP_SETUP_FAILED',
      `cannot enable ${options.controllers.join(', ')} for children of ${ownDir}: it holds other processes ` +
        `(cgroups v2 allows no processes in a cgroup that delegates controllers). Start the agent in a cgroup ` +
        `of its own (e.g. a systemd unit with Delegate=yes) or point --cgroups-root below an empty cgroup. ` +
        `First error: ${(firstError as Error).message}; after moving this process: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function setupFailed(err: unknown): IsolatorError {
  if (err instanceof IsolatorError) return err;
  return new IsolatorError('CGROUP_SETUP_FAILED', (err as Error).message, { cause: err });
}

/** Strips the mount's own root (cgroup namespaces, bind mounts) from a /proc/self/cgroup path. */
export function pathBelowMount(ownPath: string, mountRoot: string): string {
  if (mountRoot === '/' || mountRoot === '') return ownPath;
  if (ownPath === mountRoot) return '/';
  return ownPath.startsWith(`${mountRoot}/`) ? ownPath.slice(mountRoot.length) : ownPath;
}
