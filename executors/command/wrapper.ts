// The tiny shell that stands between the agent and the task's program. It blocks on fd 3 until the
// agent has moved it into the task's cgroup (so the program never runs outside it), runs the program,
// and records its exit status in the sandbox, so an agent restarted meanwhile can learn how it ended.
import { constants } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExitResult } from '../executor.js';

/** $0 of the wrapper; with the container id it marks the wrapper's /proc/<pid>/cmdline as ours. */
export const WRAPPER_NAME_PREFIX = 'tessera-task:';

/** Exit status of the wrapper when it was never released (never ran the task). */
export const NOT_RELEASED_STATUS = 125;

/**
 * The gate every process started in a task's cgroup passes (the wrapper, and commands run in the task):
 * it blocks on fd 3 until the agent released it, after moving it into the cgroup. A failed read (nobody
 * released it, so it may not be in its cgroup) runs nothing.
 */
export const GATE = `IFS= read -r _ <&3 || exit ${NOT_RELEASED_STATUS}`;

/**
 * Trapping (not ignoring) the usual stop signals keeps the wrapper alive to record the status while
 * the task — for which exec resets them to default — gets the signal. A `read` that fails (the agent
 * died before releasing it) means the wrapper may not be in its cgroup: it then runs nothing.
 * The status is written by the `echo` builtin, with no fork: a forked helper (say `mv` for an atomic
 * rename) has default signal handling and a stop signal sent to the cgroup could kill it before it
 * records anything. Readers only look at the file once the wrapper is gone, so it is complete then.
 */
const WRAPPER_SCRIPT = [
  "trap ':' HUP INT TERM QUIT USR1 USR2",
  GATE,
  'exec 3<&-',
  'f=$1; shift',
  '"$@"',
  's=$?',
  'echo "$s" > "$f"',
  'exit "$s"',
].join('\n');


export function stateDir(sandboxDir: string): string {
  return join(sandboxDir, '.tessera');
}

export function exitStatusFile(sandboxDir: string): string {
  return join(stateDir(sandboxDir), 'exit_status');
}

/** argv for spawning the wrapper around `taskArgv`. */
export function wrapperArgv(containerId: string, sandboxDir: string, taskArgv: readonly string[]): string[] {
  return ['/bin/sh', '-c', WRAPPER_SCRIPT, `${WRAPPER_NAME_PREFIX}${containerId}`, exitStatusFile(sandboxDir), ...taskArgv];
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]),
);

/**
 * A shell status: 128+N means the program died by signal N (the shell cannot tell that apart from a
 * program that exits 128+N itself; Mesos's command executor reports the same way).
 */
export function decodeShellStatus(status: number): ExitResult {
  if (status > 128) {
    const signal = signalNames.get(status - 128);
    if (signal) {
      return { exitCode: null, signal, oomKilled: false, message: `terminated by ${signal} (status ${status})` };
    }
  }
  return { exitCode: status, signal: null, oomKilled: false, message: `exited with status ${status}` };
}

/** The task's recorded exit status; undefined when the wrapper never wrote one. */
export async function readExitStatus(sandboxDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(exitStatusFile(sandboxDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const status = Number(text.trim());
  return Number.isInteger(status) && text.trim() !== '' ? status : undefined;
}
