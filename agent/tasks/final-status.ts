// How a task's end becomes its terminal status update. Pure: easy to test, one place to read.
import { constants } from 'node:os';
import type { TaskInfo, TaskReason, TaskState } from '../../common/index.js';
import type { ExitResult } from '../../executors/index.js';

export interface FinalStatus {
  state: Extract<TaskState, 'TASK_FINISHED' | 'TASK_FAILED' | 'TASK_KILLED'>;
  reason?: TaskReason;
  message: string;
  /** Wait-status style: the exit code, or 128 + signal number when a signal ended it. */
  exitCode?: number;
}

/**
 * A kill on request wins (the task was asked to die); then an OOM kill, decided by the flag and never
 * by the exit code (under `sh` an OOM-killed task can still exit 0); then the exit code.
 * `note` (e.g. "task ended while the agent was down") is appended to the message whatever the outcome;
 * the executor's own exit message only when the task failed and it says more than the exit status.
 */
export function finalStatusFor(task: TaskInfo, exit: ExitResult, killRequested: boolean, note?: string): FinalStatus {
  const exitCode = exitCodeOf(exit);
  const suffix = note ? `; ${note}` : '';
  const base = exitCode === undefined ? {} : { exitCode };
  if (killRequested) {
    return { ...base, state: 'TASK_KILLED', message: `Task killed (${describeExit(exit)})${suffix}` };
  }
  if (exit.oomKilled) {
    return { ...base, state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LIMITATION_MEMORY', message: `Memory limit exceeded: ${task.resources.mem} MB${suffix}` };
  }
  if (exit.exitCode === 0) {
    return { ...base, state: 'TASK_FINISHED', message: `Command exited with status 0${suffix}` };
  }
  const described = describeExit(exit);
  const detail = exit.message && !described.toLowerCase().includes(exit.message.toLowerCase()) ? ` (${exit.message})` : '';
  return { ...base, state: 'TASK_FAILED', reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: `${capitalise(described)}${detail}${suffix}` };
}

export function describeExit(exit: ExitResult): string {
  if (exit.signal) return `command terminated by signal ${exit.signal}`;
  if (exit.exitCode !== null) return `command exited with status ${exit.exitCode}`;
  return 'command ended with an unknown status';
}

function exitCodeOf(exit: ExitResult): number | undefined {
  if (exit.exitCode !== null) return exit.exitCode;
  if (exit.signal) {
    const number = (constants.signals as Record<string, number | undefined>)[exit.signal];
    if (number !== undefined) return 128 + number;
  }
  return undefined;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
