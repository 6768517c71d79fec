// Status updates the master itself decides (LOST, KILLED for a pending task, ERROR).
import { epochSeconds, type Clock, type IdSource, type TaskReason, type TaskState, type TaskStatus } from '../../common/index.js';

export function masterStatus(options: {
  taskId: string;
  agentId?: string | undefined;
  state: TaskState;
  reason?: TaskReason;
  message: string;
  clock: Clock;
  ids: IdSource;
}): TaskStatus {
  const status: TaskStatus = {
    task_id: options.taskId,
    state: options.state,
    message: options.message,
    source: 'SOURCE_MASTER',
    timestamp: epochSeconds(options.clock),
    uuid: options.ids.uuid(),
  };
  if (options.agentId !== undefined) status.agent_id = options.agentId;
  if (options.reason !== undefined) status.reason = options.reason;
  return status;
}
