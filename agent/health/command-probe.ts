// A COMMAND check of a command task: `/bin/sh -c value` in the task's sandbox, with the task's
// environment and user, inside the task's cgroup — limited with it, and killed with it. Like the
// command executor's launch, the process first waits on fd 3 until the isolator has moved it into the
// cgroup, so the check never runs outside it; a check that outlives its timeout is SIGKILLed with its
// process group.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { errorMessage, type CommandInfo } from '../../common/index.js';
import type { Isolator } from '../../isolators/index.js';
import type { ProbeResult } from './health-checker.js';

/** Blocks until released on fd 3; a failed read (nobody released it) runs nothing. */
const GATE_SCRIPT = 'IFS= read -r _ <&3 || exit 125; exec 3<&-; exec "$@"';
const MAX_OUTPUT = 4096;

export interface CommandProbeTarget {
  containerId: string;
  sandboxDir: string;
  /** The task's wrapper process: its environment and user are the check's. */
  taskPid: number | undefined;
}

export interface CommandProbeOptions {
  isolator: Isolator;
  target: CommandProbeTarget;
  command: CommandInfo;
  timeoutMs: number;
  signal: AbortSignal;
}

/** The check's argv: through `/bin/sh -c` unless `shell` is false (Mesos CommandInfo semantics). */
export function checkArgv(command: CommandInfo): string[] {
  const value = command.value ?? '';
  if (command.shell === false) return [value, ...(command.arguments ?? [])];
  return ['/bin/sh', '-c', value];
}

export async function runCommandProbe(options: CommandProbeOptions): Promise<ProbeResult> {
  const { target, signal } = options;
  if (signal.aborted) return { healthy: false, message: 'aborted' };
  const task = await taskProcess(target);
  const env: Record<string, string> = { ...task.env, MESOS_SANDBOX: target.sandboxDir };
  for (const { name, value } of options.command.environment?.variables ?? []) env[name] = value;
  const child = spawn('/bin/sh', ['-c', GATE_SCRIPT, `tessera-health:${target.containerId}`, ...checkArgv(options.command)], {
    cwd: target.sandboxDir,
    env,
    // Its own process group: a timeout kills the check and whatever it forked.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    ...(task.user ? { uid: task.user.uid, gid: task.user.gid } : {}),
  });
  const output = collectOutput(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  try {
    await spawned;
  } catch (err) {
    return { healthy: false, message: `the check could not start: ${errorMessage(err)}` };
  }
  const pid = child.pid;
  if (pid === undefined) return { healthy: false, message: 'the check has no pid' };
  const killGroup = (): void => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  signal.addEventListener('abort', killGroup, { once: true });
  if (signal.aborted) killGroup();
  try {
    try {
      await options.isolator.isolate(target.containerId, pid);
      await release(child.stdio[3] as Writable | null);
    } catch (err) {
      killGroup();
      await exited;
      return { healthy: false, message: `cannot run the check in the task's container: ${errorMessage(err)}` };
    }
    const exit = await exited;
    // Something the check left in the background must not keep its pipes (and us) waiting.
    child.stdout?.destroy();
    child.stderr?.destroy();
    if (signal.aborted) return { healthy: false, message: 'aborted' };
    const tail = output().trim().split('\n').at(-1) ?? '';
    const detail = tail === '' ? '' : `: ${tail}`;
    if (exit.code === 0) return { healthy: true, message: 'exited with status 0' };
    if (exit.signal !== null) return { healthy: false, message: `terminated by ${exit.signal}${detail}` };
    return { healthy: false, message: `exited with status ${exit.code ?? 'unknown'}${detail}` };
  } finally {
    signal.removeEventListener('abort', killGroup);
  }
}

/**
 * The task's environment and user, read from its wrapper process while it still is that task's
 * (its command line names the container). Otherwise a minimal environment and the agent's user.
 */
async function taskProcess(target: CommandProbeTarget): Promise<{ env: Record<string, string>; user?: { uid: number; gid: number } }> {
  const fallback = { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: target.sandboxDir } };
  const pid = target.taskPid;
  if (pid === undefined) return fallback;
  try {
    const [cmdline, environ, owner] = await Promise.all([
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
      readFile(`/proc/${pid}/environ`, 'utf8'),
      stat(`/proc/${pid}`),
    ]);
    if (!cmdline.split('\0').some((arg) => arg.endsWith(target.containerId))) return fallback;
    const env: Record<string, string> = {};
    for (const entry of environ.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    const same = owner.uid === process.getuid?.() && owner.gid === process.getgid?.();
    return same ? { env } : { env, user: { uid: owner.uid, gid: owner.gid } };
  } catch {
    return fallback;
  }
}

function collectOutput(child: ChildProcess): () => string {
  let text = '';
  const take = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-MAX_OUTPUT);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  child.stdout?.on('error', () => undefined);
  child.stderr?.on('error', () => undefined);
  return () => text;
}

async function release(gate: Writable | null): Promise<void> {
  if (!gate) throw new Error('the check has no release pipe');
  await new Promise<void>((resolve, reject) => {
    gate.once('error', reject);
    gate.end('go\n', () => resolve());
  });
  gate.destroy();
}
