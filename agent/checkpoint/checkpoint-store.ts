// Durable agent state under <workDir>/agent/:
//   agent.json                      {"agent_id": "..."} once the master gave us an id
//   tasks/task-<taskId>/container.json  {"container_id", "sandbox_dir", "kind"} (written first)
//   tasks/task-<taskId>/task.json       the TaskInfo (its presence makes the task known)
//   tasks/task-<taskId>/updates.log     status updates, acknowledgements and, once started, the
//                                       executor's TaskHandle (JSON lines, O_SYNC appends)
//   tasks/task-<taskId>/handle.json     the TaskHandle as agents before the log carried it wrote it
//                                       (still read, never written)
//   sandboxes/<containerId>/            the task's working directory (stdout, stderr)
// Task directories are prefixed so that ids like "." or ".." (legal per the id pattern) stay inside.
import { mkdir, open, readFile, readdir, rm, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, writeFilesAtomic, type Logger, type TaskInfo, type TaskStatus } from '../../common/index.js';
import type { ExecutorKind, TaskHandle } from '../../executors/index.js';
import { AgentError } from '../errors.js';
import { formatEntry, parseUpdateLog } from './update-log.js';

export interface ContainerRecord {
  container_id: string;
  sandbox_dir: string;
  kind: ExecutorKind;
}

export interface CheckpointedTask {
  task: TaskInfo;
  container: ContainerRecord;
  handle: TaskHandle | undefined;
  /** Every update ever checkpointed, in order. */
  updates: TaskStatus[];
  acknowledged: Set<string>;
}

export interface CheckpointStoreOptions {
  /** <workDir>/agent */
  dir: string;
  logger: Logger;
}

const TASK_DIR_PREFIX = 'task-';

export class CheckpointStore {
  readonly dir: string;
  readonly tasksDir: string;
  readonly sandboxesDir: string;
  private readonly logger: Logger;
  /** Per-task log writers: appends to one log land in the order they were asked for. */
  private readonly logWriters = new Map<string, LogWriter>();
  /** Writes under way: close() waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(options: CheckpointStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.tasksDir = path.join(this.dir, 'tasks');
    this.sandboxesDir = path.join(this.dir, 'sandboxes');
    this.logger = options.logger;
  }

  static async create(options: CheckpointStoreOptions): Promise<CheckpointStore> {
    const store = new CheckpointStore(options);
    await mkdir(store.tasksDir, { recursive: true, mode: 0o700 });
    await mkdir(store.sandboxesDir, { recursive: true, mode: 0o755 });
    return store;
  }

  sandboxDirFor(containerId: string): string {
    return path.join(this.sandboxesDir, containerId);
  }

  async loadAgentId(): Promise<string | undefined> {
    const data = await readJson(path.join(this.dir, 'agent.json'));
    if (data === undefined) return undefined;
    const id = (data as { agent_id?: unknown }).agent_id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  }

  /**
   * A stopped agent must leave its work dir alone (the next agent owns it): waits for the writes
   * under way and refuses new ones.
   */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const writers = [...this.logWriters.values()];
    this.logWriters.clear();
    await Promise.allSettled(writers.map((w) => w.file?.close()));
  }

  /** Runs a write unless the store is closed, and lets close() wait for it. */
  private write<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new AgentError('STOPPED', 'the agent has stopped: checkpoint not written'));
    const pending = run();
    this.inFlight.add(pending);
    void pending.finally(() => this.inFlight.delete(pending)).catch(() => undefined);
    return pending;
  }

  saveAgentId(agentId: string): Promise<void> {
    return this.write(() => writeFileAtomic(path.join(this.dir, 'agent.json'), JSON.stringify({ agent_id: agentId })));
  }

  /**
   * container.json and task.json, both durable when this resolves (renamed in that order, one
   * directory fsync). A task is known once both exist; loadTasks() drops a directory with only one,
   * which a crash before this resolves can leave (the launch was then never accepted).
   */
  saveTask(task: TaskInfo, container: ContainerRecord): Promise<void> {
    const dir = this.taskDir(task.task_id);
    return this.write(async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFilesAtomic(dir, [
        { name: 'container.json', content: JSON.stringify(container) },
        { name: 'task.json', content: JSON.stringify(task) },
      ]);
    });
  }

  /**
   * Durable when this resolves, as a line of the task's update log: one O_SYNC append on the log
   * the task's updates keep open, instead of a temp file, fsync, rename and directory fsync. A crash
   * mid-append leaves a torn line that loadTasks() drops, as it would a never-renamed temp file.
   */
  saveHandle(taskId: string, handle: TaskHandle): Promise<void> {
    return this.append(taskId, formatEntry({ handle }));
  }

  appendUpdate(taskId: string, update: TaskStatus): Promise<void> {
    return this.append(taskId, formatEntry({ update }));
  }

  appendAck(taskId: string, uuid: string): Promise<void> {
    return this.append(taskId, formatEntry({ ack: uuid }));
  }

  /**
   * Closes a task's update log until its next append: the status update manager calls this when the
   * task has nothing left to send, so open logs stay bounded by the tasks with updates in flight.
   */
  releaseLog(taskId: string): void {
    const writer = this.logWriters.get(taskId);
    if (!writer || writer.flushing || writer.lines.length > 0) return;
    this.logWriters.delete(taskId);
    void writer.file?.close().catch((err: unknown) => this.logger.warn({ err, taskId }, 'could not close a status update log'));
  }

  removeTask(taskId: string): Promise<void> {
    return this.write(async () => {
      const writer = this.logWriters.get(taskId);
      if (writer) {
        this.logWriters.delete(taskId);
        await writer.idle;
        await writer.file?.close();
      }
      await rm(this.taskDir(taskId), { recursive: true, force: true });
    });
  }

  /** Every checkpointed task. A directory without task.json (died before the launch was accepted) is removed. */
  async loadTasks(): Promise<CheckpointedTask[]> {
    const entries = await readdir(this.tasksDir, { withFileTypes: true });
    const tasks: CheckpointedTask[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !entry.name.startsWith(TASK_DIR_PREFIX)) continue;
      const dir = path.join(this.tasksDir, entry.name);
      const task = (await readJson(path.join(dir, 'task.json'))) as TaskInfo | undefined;
      const container = (await readJson(path.join(dir, 'container.json'))) as ContainerRecord | undefined;
      if (task === undefined || container === undefined) {
        this.logger.warn({ dir }, 'removing an incomplete task checkpoint (the launch was never accepted)');
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      const log = await this.readUpdateLog(path.join(dir, 'updates.log'));
      const handle = log.handle ?? ((await readJson(path.join(dir, 'handle.json'))) as TaskHandle | undefined);
      tasks.push({ task, container, handle, updates: log.updates, acknowledged: log.acknowledged });
    }
    return tasks;
  }

  private async readUpdateLog(file: string): Promise<{ updates: TaskStatus[]; acknowledged: Set<string>; handle: TaskHandle | undefined }> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return { updates: [], acknowledged: new Set(), handle: undefined };
      throw err;
    }
    const parsed = parseUpdateLog(text);
    if (parsed.tornLine) {
      // Cut the torn tail so the next append starts on a fresh line instead of gluing onto it.
      this.logger.warn({ file }, 'dropping a torn last line of a status update log');
      await truncate(file, parsed.intactBytes);
    }
    if (parsed.badLines > 0) this.logger.warn({ file, badLines: parsed.badLines }, 'skipped unreadable lines in a status update log');
    return { updates: parsed.updates, acknowledged: parsed.acknowledged, handle: parsed.handle };
  }

  private taskDir(taskId: string): string {
    return path.join(this.tasksDir, `${TASK_DIR_PREFIX}${taskId}`);
  }

  private logFile(taskId: string): string {
    return path.join(this.taskDir(taskId), 'updates.log');
  }

  /**
   * Group commit per log: one write + fsync at a time; lines asked for while it runs go out together
   * in the next one, in the order asked. Each caller resolves once its line is durable; a failed
   * write fails only the lines it carried.
   */
  private append(taskId: string, line: string): Promise<void> {
    return this.write(() => this.enqueue(taskId, line));
  }

  private enqueue(taskId: string, line: string): Promise<void> {
    let writer = this.logWriters.get(taskId);
    if (!writer) {
      writer = { lines: [], waiters: [], flushing: false, file: undefined, idle: Promise.resolve() };
      this.logWriters.set(taskId, writer);
    }
    const target = writer;
    const durable = new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
    target.lines.push(line);
    if (!target.flushing) void this.flush(taskId, target);
    return durable;
  }

  private flush(taskId: string, writer: LogWriter): Promise<void> {
    writer.flushing = true;
    writer.idle = this.flushLoop(taskId, writer);
    return writer.idle;
  }

  private async flushLoop(taskId: string, writer: LogWriter): Promise<void> {
    while (writer.lines.length > 0) {
      const { lines, waiters } = writer;
      writer.lines = [];
      writer.waiters = [];
      try {
        // The log stays open between flushes (closed by removeTask or close()): an open + close per
        // flush cost more than the write. 'as' = O_APPEND | O_SYNC: each write returns once durable.
        writer.file ??= await open(this.logFile(taskId), 'as', 0o600);
        await writer.file.writeFile(`${lines.join('\n')}\n`, 'utf8');
        for (const waiter of waiters) waiter.resolve();
      } catch (err) {
        // Reopen next time: the handle may be what failed.
        const file = writer.file;
        writer.file = undefined;
        await file?.close().catch(() => undefined);
        for (const waiter of waiters) waiter.reject(err);
      }
    }
    // In the same synchronous step as the last check: a line queued after it starts a new flush.
    writer.flushing = false;
  }
}

interface LogWriter {
  lines: string[];
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
  flushing: boolean;
  /** The open log, kept between flushes. */
  file: FileHandle | undefined;
  /** Settles when the current flush (if any) is done. */
  idle: Promise<void>;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // Atomic writes make this impossible short of disk corruption or a hand edit: say which file.
    throw new AgentError('CHECKPOINT_CORRUPT', `checkpoint ${file} is not valid JSON`, { cause: err });
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
