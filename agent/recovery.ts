// Agent recovery: after a restart, rebuild every checkpointed task and decide what it is now.
//   terminal                 → kept as completed; its unacknowledged updates are sent again
//   started (handle.json)    → executor.recoverTask: still running → re-attach; ended → its final update
//   never started (no handle)→ TASK_FAILED REASON_AGENT_RESTARTED, and whatever it left is cleaned up
// Then containers that an executor can find for this agent but that no checkpoint claims (orphans,
// e.g. a Docker container started just before the agent died) are destroyed.
import { errorMessage, isTerminal, type Logger } from '../common/index.js';
import type { Executor, ExecutorKind, TaskHandle } from '../executors/index.js';
import type { CheckpointStore } from './checkpoint/index.js';
import type { StatusUpdateManager } from './status-updates/index.js';
import type { TaskManager } from './tasks/index.js';

export const ENDED_WHILE_DOWN = 'task ended while the agent was down';

export interface RecoveryOptions {
  store: CheckpointStore;
  taskManager: TaskManager;
  statusUpdates: StatusUpdateManager;
  executors: Partial<Record<ExecutorKind, Executor>>;
  /** The checkpointed agent id; orphans are only looked for when there is one. */
  agentId: string | undefined;
  logger: Logger;
}

export interface RecoverySummary {
  running: number;
  endedWhileDown: number;
  failed: number;
  completed: number;
  orphansDestroyed: number;
}

export async function recover(options: RecoveryOptions): Promise<RecoverySummary> {
  const { store, taskManager, statusUpdates, executors, logger } = options;
  const summary: RecoverySummary = { running: 0, endedWhileDown: 0, failed: 0, completed: 0, orphansDestroyed: 0 };
  const checkpoints = await store.loadTasks();
  // Oldest first, so the completed-task list keeps its order across restarts.
  checkpoints.sort((a, b) => (a.updates[0]?.timestamp ?? 0) - (b.updates[0]?.timestamp ?? 0));
  // Containers of tasks that still run; anything else an executor finds for this agent is an orphan
  // (including the container of a task that died mid-launch, whose handle was never checkpointed).
  const claimed = new Set<string>();

  for (const checkpoint of checkpoints) {
    const record = taskManager.restore(checkpoint);
    const taskId = record.task.task_id;
    // Unacknowledged updates go out first, before anything recovery adds below.
    statusUpdates.requeue(taskId, checkpoint.updates.filter((u) => !checkpoint.acknowledged.has(u.uuid)));
    if (isTerminal(record.state)) {
      summary.completed++;
      continue;
    }
    const executor = executors[record.kind];
    try {
      if (!executor) {
        await taskManager.fail(record, 'REASON_AGENT_RESTARTED', `the ${record.kind} executor is no longer enabled on this agent`);
        summary.failed++;
        continue;
      }
      if (!record.handle) {
        logger.warn({ taskId }, 'task was being launched when the agent stopped; failing it');
        await taskManager.fail(record, 'REASON_AGENT_RESTARTED', 'the agent restarted while launching the task');
        summary.failed++;
        continue;
      }
      const recovered = await executor.recoverTask(record.handle);
      if (recovered.running) {
        logger.info({ taskId, containerId: record.containerId }, 're-attached to a running task');
        claimed.add(record.containerId);
        await taskManager.reattach(record);
        summary.running++;
      } else {
        const { message } = recovered.exit;
        const note = message && !message.includes(ENDED_WHILE_DOWN) ? `${ENDED_WHILE_DOWN} (${message})` : ENDED_WHILE_DOWN;
        logger.info({ taskId, exit: recovered.exit }, ENDED_WHILE_DOWN);
        await taskManager.finishRecovered(record, recovered.exit, note);
        summary.endedWhileDown++;
      }
    } catch (err) {
      logger.error({ err, taskId }, 'could not recover task');
      await taskManager.fail(record, 'REASON_EXECUTOR_TERMINATED', `could not recover the task after an agent restart: ${errorMessage(err)}`);
      summary.failed++;
    }
  }

  if (options.agentId !== undefined) {
    for (const executor of Object.values(executors)) {
      if (!executor) continue;
      let found: TaskHandle[];
      try {
        found = await executor.findTasks(options.agentId);
      } catch (err) {
        logger.warn({ err, executor: executor.kind }, 'could not look for orphaned containers');
        continue;
      }
      for (const handle of found) {
        if (claimed.has(handle.containerId)) continue;
        logger.warn({ taskId: handle.taskId, containerId: handle.containerId }, 'destroying an orphaned container');
        await executor.destroyTask(handle).then(
          () => summary.orphansDestroyed++,
          (err: unknown) => logger.warn({ err, containerId: handle.containerId }, 'could not destroy an orphaned container'),
        );
      }
    }
  }
  logger.info(summary, 'recovery done');
  return summary;
}
