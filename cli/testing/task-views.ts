// Test support: TaskView and TaskStatus values shaped as the master sends them.
import type { TaskReason, TaskState, TaskStatus, TaskView } from '../../common/index.js';

export function status(taskId: string, state: TaskState, extra: { reason?: TaskReason; message?: string } = {}, at = 1): TaskStatus {
  return { task_id: taskId, state, source: 'SOURCE_EXECUTOR', timestamp: 1_700_000_000 + at, uuid: `${taskId}-${state}-${at}`, ...extra };
}

export function taskView(taskId: string, state: TaskState, overrides: Partial<TaskView> = {}): TaskView {
  return {
    task_id: taskId,
    name: 'sleep',
    framework_id: 'tessera-tasks',
    state,
    resources: { cpus: 0.1, mem: 64 },
    command: { shell: true, value: 'sleep 100' },
    statuses: [],
    submitted_at: Date.now() / 1000 - 90,
    ...overrides,
  };
}
