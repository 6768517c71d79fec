// The master's view of every task: live tasks by id, terminal ones in a bounded completed list.
// Status updates go through common's transition table; the store never wedges an agent: duplicates
// and illegal updates are acknowledged by the caller all the same.
import {
  ConflictError,
  TASK_STATES,
  assertTransition,
  canTransition,
  isTerminal,
  type Logger,
  type TaskState,
  type TaskStatus,
  type TaskView,
} from '../../common/index.js';

export type UpdateOutcome =
  /** The update was recorded; `becameTerminal` when it ended the task just now. */
  | { kind: 'applied'; view: TaskView; becameTerminal: boolean }
  /** Same uuid seen before: an at-least-once retransmission. */
  | { kind: 'duplicate'; view: TaskView }
  /**
   * The master already knows better: it ended the task itself (e.g. LOST when the agent went
   * silent), or the update is older than the state it has (an agent re-sending STARTING after its
   * re-registration reported RUNNING).
   */
  | { kind: 'superseded'; view: TaskView }
  /** Not allowed by the transition table: logged and counted. */
  | { kind: 'illegal'; view: TaskView; from: TaskState; to: TaskState }
  | { kind: 'unknown' };

export interface TaskStoreOptions {
  logger: Logger;
  /** How many terminal tasks to keep (oldest dropped first). */
  completedLimit?: number;
  /** Called once for each task that ends (an update, or added already ended), whoever made it end. */
  onTerminal?: (view: TaskView) => void;
  /** Called for every update applied (not duplicates or refused ones), after onTerminal. */
  onApplied?: (view: TaskView, status: TaskStatus) => void;
}

export class TaskStore {
  /** Updates refused by the transition table since start (metric `master/invalid_status_updates`). */
  invalidUpdates = 0;
  private readonly live = new Map<string, TaskView>();
  private readonly done = new Map<string, TaskView>();
  /** Live task ids by agent. */
  private readonly byAgent = new Map<string, Set<string>>();
  /** Terminal tasks by state since start; the completed list is bounded, these counters are not. */
  private readonly endedCounts = new Map<TaskState, number>();
  private readonly logger: Logger;
  private readonly completedLimit: number;
  private readonly onTerminal: ((view: TaskView) => void) | undefined;
  private readonly onApplied: ((view: TaskView, status: TaskStatus) => void) | undefined;

  constructor(options: TaskStoreOptions) {
    this.logger = options.logger;
    this.completedLimit = options.completedLimit ?? 1000;
    this.onTerminal = options.onTerminal;
    this.onApplied = options.onApplied;
  }

  /** Adds a task the master has not seen (submitted, or adopted from an agent's report). */
  add(view: TaskView): TaskView {
    if (this.get(view.task_id)) throw new ConflictError(`task '${view.task_id}' already exists`);
    if (isTerminal(view.state)) this.complete(view);
    else {
      this.live.set(view.task_id, view);
      this.index(view);
    }
    return view;
  }

  get(taskId: string): TaskView | undefined {
    return this.live.get(taskId) ?? this.done.get(taskId);
  }

  /** Non-terminal tasks, in submission order. */
  active(): TaskView[] {
    return [...this.live.values()];
  }

  /** Terminal tasks kept, oldest first. */
  completed(): TaskView[] {
    return [...this.done.values()];
  }

  /** Live tasks then completed ones, optionally only those in `state`. */
  list(state?: TaskState): TaskView[] {
    const all = [...this.live.values(), ...this.done.values()];
    return state === undefined ? all : all.filter((view) => view.state === state);
  }

  /** Non-terminal tasks placed on `agentId` (indexed: asked on every registration of thousands of agents). */
  onAgent(agentId: string): TaskView[] {
    const views: TaskView[] = [];
    for (const taskId of this.byAgent.get(agentId) ?? []) {
      const view = this.live.get(taskId);
      if (view) views.push(view);
    }
    return views;
  }

  /** How many tasks are in each state: live ones now, terminal ones ever (since start). */
  countByState(): Record<TaskState, number> {
    const counts = Object.fromEntries(TASK_STATES.map((s) => [s, this.endedCounts.get(s) ?? 0])) as Record<
      TaskState,
      number
    >;
    for (const view of this.live.values()) counts[view.state] += 1;
    return counts;
  }

  /** Records an update for a task the master knows. */
  apply(status: TaskStatus): UpdateOutcome {
    const view = this.get(status.task_id);
    if (!view) return { kind: 'unknown' };
    if (view.statuses.some((s) => s.uuid === status.uuid)) return { kind: 'duplicate', view };
    const from = view.state;
    const to = status.state;
    if (isTerminal(from) && view.statuses.at(-1)?.source === 'SOURCE_MASTER' && status.source !== 'SOURCE_MASTER') {
      return { kind: 'superseded', view };
    }
    if (from === to) {
      // A repeated state with a new uuid (e.g. a re-sent RUNNING after an agent restart, or a health
      // check result) is news, not a bug.
      view.statuses.push(status);
      if (status.healthy !== undefined) view.healthy = status.healthy;
      this.onApplied?.(view, status);
      return { kind: 'applied', view, becameTerminal: false };
    }
    const latest = view.statuses.at(-1);
    if (latest && status.timestamp < latest.timestamp && !canTransition(from, to)) return { kind: 'superseded', view };
    try {
      assertTransition(view.task_id, from, to);
    } catch (err) {
      this.invalidUpdates += 1;
      this.logger.warn({ err, task_id: view.task_id, from, to, uuid: status.uuid }, 'illegal status update ignored');
      return { kind: 'illegal', view, from, to };
    }
    view.state = to;
    view.statuses.push(status);
    if (status.healthy !== undefined) view.healthy = status.healthy;
    if (status.reason !== undefined) view.reason = status.reason;
    else delete view.reason;
    if (status.message !== undefined) view.message = status.message;
    else delete view.message;
    if (status.agent_id !== undefined && view.agent_id === undefined) {
      view.agent_id = status.agent_id;
      this.index(view);
    }
    const becameTerminal = isTerminal(to);
    if (becameTerminal) {
      this.live.delete(view.task_id);
      this.unindex(view);
      this.complete(view);
    }
    this.onApplied?.(view, status);
    return { kind: 'applied', view, becameTerminal };
  }

  /** Sets or clears where a live task runs (placement, or back to pending after a refused launch). */
  assign(taskId: string, agent: TaskView['agent'] | undefined): void {
    const view = this.live.get(taskId);
    if (!view) return;
    this.unindex(view);
    if (agent) {
      view.agent_id = agent.id;
      view.agent = agent;
    } else {
      delete view.agent_id;
      delete view.agent;
    }
    this.index(view);
  }

  private index(view: TaskView): void {
    if (view.agent_id === undefined) return;
    let set = this.byAgent.get(view.agent_id);
    if (!set) this.byAgent.set(view.agent_id, (set = new Set()));
    set.add(view.task_id);
  }

  private unindex(view: TaskView): void {
    if (view.agent_id === undefined) return;
    const set = this.byAgent.get(view.agent_id);
    set?.delete(view.task_id);
    if (set?.size === 0) this.byAgent.delete(view.agent_id);
  }

  private complete(view: TaskView): void {
    this.onTerminal?.(view);
    this.endedCounts.set(view.state, (this.endedCounts.get(view.state) ?? 0) + 1);
    this.done.set(view.task_id, view);
    while (this.done.size > this.completedLimit) {
      const oldest = this.done.keys().next().value;
      if (oldest === undefined) break;
      this.done.delete(oldest);
    }
  }
}
