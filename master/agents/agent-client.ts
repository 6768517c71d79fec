// The master's calls to an agent: a narrow port so the master can be tested against any agent.
import {
  INTERNAL_PATHS,
  RemoteError,
  requestJson,
  type AcknowledgeRequest,
  type AgentInfo,
  type KillRequest,
  type LaunchRequest,
  type TaskInfo,
} from '../../common/index.js';

export interface AgentClient {
  launch(agent: AgentInfo, task: TaskInfo): Promise<void>;
  kill(agent: AgentInfo, taskId: string, gracePeriodSeconds?: number): Promise<void>;
  /** Frameworks acknowledged these status updates: the agent may forget them. */
  acknowledge(agent: AgentInfo, acknowledgements: AcknowledgeRequest['acknowledgements']): Promise<void>;
}

export class HttpAgentClient implements AgentClient {
  constructor(private readonly timeoutMs = 10_000) {}

  async launch(agent: AgentInfo, task: TaskInfo): Promise<void> {
    const body: LaunchRequest = { task };
    await requestJson(`${agentUrl(agent)}${INTERNAL_PATHS.launch}`, { body, timeoutMs: this.timeoutMs });
  }

  async kill(agent: AgentInfo, taskId: string, gracePeriodSeconds?: number): Promise<void> {
    const body: KillRequest = gracePeriodSeconds === undefined ? {} : { grace_period_seconds: gracePeriodSeconds };
    await requestJson(`${agentUrl(agent)}${INTERNAL_PATHS.kill(taskId)}`, { body, timeoutMs: this.timeoutMs });
  }

  async acknowledge(agent: AgentInfo, acknowledgements: AcknowledgeRequest['acknowledgements']): Promise<void> {
    const body: AcknowledgeRequest = { acknowledgements };
    await requestJson(`${agentUrl(agent)}${INTERNAL_PATHS.acknowledge}`, { body, timeoutMs: this.timeoutMs });
  }
}

export function agentUrl(agent: AgentInfo): string {
  const host = agent.ip.includes(':') ? `[${agent.ip}]` : agent.ip;
  return `http://${host}:${agent.port}`;
}

/** How a failed call to an agent ended: decides whether a launch goes back to the queue. */
export type CallFailure =
  /** Nothing listens there: the task certainly did not reach the agent. */
  | 'refused'
  /** The agent answered 4xx: it will not run the task. */
  | 'rejected'
  /** Timeout, reset, 5xx: the agent may or may not have the task. */
  | 'unknown';

export function classifyFailure(err: unknown): CallFailure {
  if (err instanceof RemoteError && err.status !== undefined && err.status >= 400 && err.status < 500) return 'rejected';
  return hasCode(err, 'ECONNREFUSED', 0) ? 'refused' : 'unknown';
}

function hasCode(err: unknown, code: string, depth: number): boolean {
  if (depth > 8 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (e.code === code) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => hasCode(inner, code, depth + 1))) return true;
  return hasCode(e.cause, code, depth + 1);
}
