// Which agents the master knows, whether they are alive, and what happens to their tasks when they go
// silent or come back. Agents are the source of truth for running tasks: on (re-)registration their
// report is reconciled against the master's view.
import {
  isTerminal,
  type AgentInfo,
  type Clock,
  type IdSource,
  type Logger,
  type RegisterRequest,
  type TaskReason,
  type TaskView,
} from '../../common/index.js';
import { AgentUnknownError } from '../errors.js';
import type { AdmittedAgent } from '../registry/index.js';
import { masterStatus, type TaskStore } from '../tasks/index.js';
import { FRAMEWORK_ID } from '../framework.js';

/**
 * active: registered and heartbeating; recovering: known from the registry after a master restart or
 * failover, not used until it re-registers (removed if it does not within the re-registration
 * timeout); unreachable: silent longer than the timeout (its tasks are LOST).
 */
export type AgentStatus = 'active' | 'recovering' | 'unreachable';

export interface AgentRecord {
  id: string;
  info: AgentInfo;
  /** Seconds since the epoch: first admission. */
  registered_at: number;
  /** Seconds since the epoch: last (re-)registration with this master, if any. */
  reregistered_at?: number;
  status: AgentStatus;
  /** Milliseconds (clock) of the last sign of life. */
  lastSeenMs: number;
}

export interface RegisterResult {
  agent: AgentRecord;
  isNew: boolean;
  /** The agent was known but reports different info (address, resources…): the registry must learn it. */
  infoChanged: boolean;
  /** Tasks the master already gave up on: the agent must kill them. */
  killTaskIds: string[];
  /** Tasks that were waiting in the master's queue and that this agent reports: they are placed now. */
  claimedPendingIds: string[];
}

export interface AgentManagerOptions {
  tasks: TaskStore;
  clock: Clock;
  ids: IdSource;
  logger: Logger;
  agentTimeoutMs: number;
  /** How long a recovered agent has to re-register before it is removed; default: agentTimeoutMs. */
  agentReregisterTimeoutMs?: number;
}

export interface SweepResult {
  /** Active agents that went silent: now unreachable, their tasks LOST. */
  unreachable: AgentRecord[];
  /** Recovered agents that never re-registered: forgotten (the caller settles what it knew of them). */
  removed: AgentRecord[];
}

export class AgentManager {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly tasks: TaskStore;
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly logger: Logger;
  private readonly agentTimeoutMs: number;
  private readonly agentReregisterTimeoutMs: number;

  constructor(options: AgentManagerOptions) {
    this.tasks = options.tasks;
    this.clock = options.clock;
    this.ids = options.ids;
    this.logger = options.logger;
    this.agentTimeoutMs = options.agentTimeoutMs;
    this.agentReregisterTimeoutMs = options.agentReregisterTimeoutMs ?? options.agentTimeoutMs;
  }

  /** Agents from the registry: known, but not used until they re-register within the timeout. */
  recover(admitted: readonly AdmittedAgent[]): void {
    const now = this.clock.now();
    for (const agent of admitted) {
      this.agents.set(agent.id, {
        id: agent.id,
        info: agent.info,
        registered_at: agent.registered_at,
        status: 'recovering',
        lastSeenMs: now,
      });
    }
  }

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  /** Every admitted agent, in admission order. */
  list(): AgentRecord[] {
    return [...this.agents.values()];
  }

  active(): AgentRecord[] {
    return this.list().filter((agent) => agent.status === 'active');
  }

  recovering(): AgentRecord[] {
    return this.list().filter((agent) => agent.status === 'recovering');
  }

  /** Everyone gets a fresh timeout: they could not reach this master for a while (see Leader.resume). */
  touchAll(): void {
    const now = this.clock.now();
    for (const agent of this.agents.values()) agent.lastSeenMs = now;
  }

  /** What the registry keeps. */
  admitted(): AdmittedAgent[] {
    return this.list().map(({ id, info, registered_at }) => ({ id, info, registered_at }));
  }

  /** An active agent, marked seen; anything else must re-register first (404 AGENT_UNKNOWN). */
  requireActive(agentId: string): AgentRecord {
    const agent = this.agents.get(agentId);
    if (!agent) throw new AgentUnknownError(agentId);
    if (agent.status !== 'active') throw new AgentUnknownError(agentId, `is ${agent.status}`);
    agent.lastSeenMs = this.clock.now();
    return agent;
  }

  heartbeat(agentId: string): void {
    this.requireActive(agentId);
  }

  register(request: RegisterRequest): RegisterResult {
    const nowMs = this.clock.now();
    const nowSecs = nowMs / 1000;
    let agent = request.agent_id === undefined ? undefined : this.agents.get(request.agent_id);
    const isNew = agent === undefined;
    let infoChanged = false;
    if (!agent) {
      // A checkpointed id the master does not know (e.g. its registry was wiped) is kept: the agent's
      // tasks are labelled with it.
      const id = request.agent_id ?? this.ids.uuid();
      this.removeReplacedAgents(id, request.info);
      agent = { id, info: request.info, registered_at: nowSecs, status: 'active', lastSeenMs: nowMs };
      this.agents.set(id, agent);
    } else {
      const was = agent.status;
      infoChanged = !sameInfo(agent.info, request.info);
      agent.info = request.info;
      agent.status = 'active';
      agent.lastSeenMs = nowMs;
      agent.reregistered_at = nowSecs;
      // debug: after a failover thousands of agents come back within a second.
      this.logger.debug({ agent_id: agent.id, was }, 'agent re-registered');
    }
    const result = this.reconcile(agent, request);
    if (isNew) this.logger.info({ agent_id: agent.id, info: request.info }, 'agent registered');
    return { agent, isNew, infoChanged, ...result };
  }

  /**
   * Marks active agents silent for longer than the timeout unreachable (their tasks LOST), and
   * removes recovered agents that did not re-register within the re-registration timeout.
   */
  sweep(): SweepResult {
    const now = this.clock.now();
    const lost: AgentRecord[] = [];
    const removed: AgentRecord[] = [];
    for (const agent of [...this.agents.values()]) {
      if (agent.status === 'unreachable') continue;
      const silentMs = now - agent.lastSeenMs;
      if (agent.status === 'recovering') {
        if (silentMs <= this.agentReregisterTimeoutMs) continue;
        this.agents.delete(agent.id);
        removed.push(agent);
        this.logger.warn({ agent_id: agent.id, waited_ms: silentMs }, 'recovered agent did not re-register in time; removed');
        continue;
      }
      if (silentMs <= this.agentTimeoutMs) continue;
      agent.status = 'unreachable';
      lost.push(agent);
      const tasks = this.tasks.onAgent(agent.id);
      this.logger.warn({ agent_id: agent.id, silent_ms: silentMs, tasks: tasks.length }, 'agent unreachable');
      for (const view of tasks) {
        this.lose(view, agent.id, 'REASON_AGENT_DISCONNECTED', `agent ${agent.id} unreachable: silent for ${silentMs} ms`);
      }
    }
    return { unreachable: lost, removed };
  }

  private reconcile(
    agent: AgentRecord,
    request: RegisterRequest,
  ): Pick<RegisterResult, 'killTaskIds' | 'claimedPendingIds'> {
    const killTaskIds: string[] = [];
    const claimedPendingIds: string[] = [];
    const reported = new Set<string>();
    const ref = agentRef(agent);
    for (const { task, status } of request.tasks) {
      reported.add(task.task_id);
      const known = this.tasks.get(task.task_id);
      if (!known) {
        // The master forgot it (restart): the agent is the source of truth.
        this.tasks.add(adoptedView(task, status, ref));
        this.logger.info({ agent_id: agent.id, task_id: task.task_id, state: status.state }, 'task adopted');
        continue;
      }
      if (isTerminal(known.state)) {
        if (!isTerminal(status.state)) killTaskIds.push(task.task_id);
        continue;
      }
      if (known.agent_id === undefined) claimedPendingIds.push(task.task_id);
      else if (known.agent_id !== agent.id) {
        this.logger.warn({ task_id: task.task_id, from: known.agent_id, to: agent.id }, 'task reported by another agent');
      }
      this.tasks.assign(task.task_id, ref);
      this.tasks.apply(status);
    }
    for (const view of this.tasks.onAgent(agent.id)) {
      if (reported.has(view.task_id)) {
        this.tasks.assign(view.task_id, ref); // the agent's address may have changed
        continue;
      }
      this.lose(view, agent.id, 'REASON_AGENT_RESTARTED', `agent ${agent.id} re-registered without task ${view.task_id}`);
    }
    return { killTaskIds, claimedPendingIds };
  }

  /** Another agent id at the same address is an agent that lost its checkpoint: forget the old one. */
  private removeReplacedAgents(newId: string, info: AgentInfo): void {
    for (const old of [...this.agents.values()]) {
      if (old.id === newId || old.info.ip !== info.ip || old.info.port !== info.port) continue;
      this.agents.delete(old.id);
      this.logger.warn({ agent_id: old.id, replaced_by: newId }, 'agent replaced by a new agent at the same address');
      for (const view of this.tasks.onAgent(old.id)) {
        this.lose(view, old.id, 'REASON_AGENT_RESTARTED', `agent ${old.id} was replaced by agent ${newId}`);
      }
    }
  }

  private lose(view: TaskView, agentId: string, reason: TaskReason, message: string): void {
    this.tasks.apply(
      masterStatus({ taskId: view.task_id, agentId, state: 'TASK_LOST', reason, message, clock: this.clock, ids: this.ids }),
    );
  }
}

export function agentRef(agent: AgentRecord): NonNullable<TaskView['agent']> {
  return { id: agent.id, hostname: agent.info.hostname, ip: agent.info.ip, port: agent.info.port };
}

function adoptedView(
  task: RegisterRequest['tasks'][number]['task'],
  status: RegisterRequest['tasks'][number]['status'],
  agent: NonNullable<TaskView['agent']>,
): TaskView {
  const view: TaskView = {
    task_id: task.task_id,
    name: task.name,
    framework_id: task.framework_id ?? FRAMEWORK_ID,
    agent_id: agent.id,
    agent,
    state: status.state,
    resources: task.resources,
    statuses: [status],
    // The submission time is lost with the master's memory; the first status is the best we know.
    submitted_at: status.timestamp,
  };
  if (task.command) view.command = task.command;
  if (task.container) view.container = task.container;
  if (task.framework_task_id !== undefined) view.framework_task_id = task.framework_task_id;
  if (status.reason !== undefined) view.reason = status.reason;
  if (status.message !== undefined) view.message = status.message;
  if (status.healthy !== undefined) view.healthy = status.healthy;
  return view;
}

/** Field by field: called for every re-registration, thousands per second after a failover. */
function sameInfo(a: AgentInfo, b: AgentInfo): boolean {
  if (a.hostname !== b.hostname || a.ip !== b.ip || a.port !== b.port || a.isolation !== b.isolation) return false;
  if (a.executors.length !== b.executors.length || a.executors.some((e, i) => e !== b.executors[i])) return false;
  const ra = a.resources as unknown as Record<string, unknown>;
  const rb = b.resources as unknown as Record<string, unknown>;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  if (!keys.every((key) => JSON.stringify(ra[key]) === JSON.stringify(rb[key]))) return false;
  const aa = a.attributes ?? {};
  const ab = b.attributes ?? {};
  const names = Object.keys(aa);
  return names.length === Object.keys(ab).length && names.every((name) => aa[name] === ab[name]);
}
