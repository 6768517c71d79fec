// The pieces of running a command inside a running command task (execTask) that do not need the
// executor: the gated argv, the task's environment and user read back from its wrapper process (for a
// task this executor did not launch), and the tail of the command's output.
import { randomUUID } from 'node:crypto';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EXEC_OUTPUT_MAX } from '../executor.js';
import { isWrapperAlive } from './processes.js';
import type { UserIds } from './users.js';
import { GATE, stateDir } from './wrapper.js';

/** $0 of an exec'd command's gate; with the container id it names the task it runs in. */
export const EXEC_NAME_PREFIX = 'tessera-exec:';

/**
 * Blocks until released on fd 3 (after the isolator moved it into the task's cgroup), then execs the
 * command in place: same pid, same process group. A failed read (nobody released it) runs nothing.
 */
const GATE_SCRIPT = `${GATE}; exec 3<&-; exec "$@"`;

/** What a command run in the task gets from the task: its environment and its user. */
export interface ExecContext {
  env: Record<string, string>;
  /** Undefined: the agent's own user. */
  user?: UserIds;
}

export function execArgv(containerId: string, argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', GATE_SCRIPT, `${EXEC_NAME_PREFIX}${containerId}`, ...argv];
}

/** A file in the task's state dir that takes the command's stdout and stderr. */
export function execOutputPath(sandboxDir: string): string {
  return join(stateDir(sandboxDir), `exec-${randomUUID()}.log`);
}

/**
 * The environment and user of a task launched by an earlier agent, read from its wrapper process while
 * it still is that task's wrapper. Otherwise a minimal environment and the agent's user.
 */
export async function readExecContext(pid: number | undefined, containerId: string, sandboxDir: string): Promise<{ context: ExecContext; fromTask: boolean }> {
  const fallback = {
    context: { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: sandboxDir, MESOS_SANDBOX: sandboxDir } },
    fromTask: false,
  };
  if (pid === undefined || !(await isWrapperAlive(pid, containerId))) return fallback;
  try {
    const [environ, owner] = await Promise.all([readFile(`/proc/${pid}/environ`, 'utf8'), stat(`/proc/${pid}`)]);
    // Still ours after the reads (a pid reused meanwhile has another cmdline).
    if (!(await isWrapperAlive(pid, containerId))) return fallback;
    const env: Record<string, string> = {};
    for (const entry of environ.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    const same = owner.uid === process.getuid?.() && owner.gid === process.getgid?.();
    return { context: same ? { env } : { env, user: { uid: owner.uid, gid: owner.gid } }, fromTask: true };
  } catch {
    return fallback;
  }
}

/** The last EXEC_OUTPUT_MAX bytes of the output file, which is then removed. */
export async function takeOutputTail(path: string): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, EXEC_OUTPUT_MAX);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      await file.close();
    }
  } catch {
    return '';
  } finally {
    await rm(path, { force: true }).catch(() => undefined);
  }
}
