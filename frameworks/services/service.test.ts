// The services glue with a real state store (a file) and a scripted scheduler port: a task is stored
// before its ACCEPT goes out, and a restarted leader launches nothing before reconciliation is answered.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type MesosOffer, type MesosTaskInfo, type MesosTaskStatus } from '../../common/index.js';
import type { SchedulerEvents } from '../scheduler-client/index.js';
import type { SchedulerPort } from './service.js';
import { ServicesFramework } from './service.js';
import { offer, status } from './testing.js';

type Handlers = { [K in keyof SchedulerEvents]?: SchedulerEvents[K] };

class ScriptedScheduler implements SchedulerPort {
  readonly handlers: Handlers = {};
  frameworkId: string | undefined = 'fw-1';
  connected = true;
  readonly calls: string[] = [];
  /** What state.json held for each accepted task id at the moment of its ACCEPT. */
  readonly storedAtAccept = new Map<string, boolean>();
  reconciled: Array<Array<{ taskId: string; agentId?: string }>> = [];

  constructor(private readonly stateFile: string) {}

  on<K extends keyof SchedulerEvents>(event: K, handler: SchedulerEvents[K]): void {
    (this.handlers as Record<string, unknown>)[event] = handler;
  }
  start(): void {}
  async stop(): Promise<void> {}
  async accept(offerIds: string[], tasks: MesosTaskInfo[]): Promise<void> {
    const state = JSON.parse(await readFile(this.stateFile, 'utf8').catch(() => '{"entries":{}}')) as { entries: Record<string, unknown> };
    for (const t of tasks) this.storedAtAccept.set(t.task_id.value, `tasks/${encodeURIComponent(t.task_id.value)}` in state.entries);
    this.calls.push(`accept ${offerIds.join(',')}`);
  }
  async decline(offerIds: string[]): Promise<void> {
    this.calls.push(`decline ${offerIds.join(',')}`);
  }
  async kill(taskId: string): Promise<void> {
    this.calls.push(`kill ${taskId}`);
  }
  async reconcile(tasks: Array<{ taskId: string; agentId?: string }>): Promise<void> {
    this.reconciled.push(tasks);
  }
  async revive(): Promise<void> {}
  async suppress(): Promise<void> {}
  subscribed(): void {
    this.handlers.subscribed?.('fw-1');
  }
  offers(offers: MesosOffer[]): void {
    this.handlers.offers?.(offers);
  }
  update(s: MesosTaskStatus): void {
    this.handlers.update?.(s);
  }
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('services framework glue (file state store, scripted scheduler)', function () {
  this.timeout(20_000);
  let dir: string;
  const started: ServicesFramework[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-services-'));
  });
  afterEach(async () => {
    for (const fw of started.splice(0)) await fw.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (): Promise<{ fw: ServicesFramework; scheduler: ScriptedScheduler }> => {
    let scheduler: ScriptedScheduler | undefined;
    const fw = await ServicesFramework.create({
      master: '127.0.0.1:1',
      workDir: dir,
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
      tickIntervalMs: 50,
      schedulerFactory: () => (scheduler = new ScriptedScheduler(join(dir, 'state.json'))),
    });
    started.push(fw);
    return { fw, scheduler: await until('the leader to start its scheduler', () => scheduler) };
  };

  it('stores a task before it ACCEPTs; a restarted leader reconciles before launching again', async () => {
    const first = await start();
    first.scheduler.subscribed();
    const post = await fetch(`http://127.0.0.1:${first.fw.port}/v2/apps`, { method: 'POST', body: JSON.stringify({ id: 'web', cmd: 'x', instances: 2, cpus: 0.1, mem: 16 }) });
    assert.equal(post.status, 201);
    first.scheduler.offers([offer('a1')]);
    await until('the ACCEPT', () => first.scheduler.storedAtAccept.size === 2);
    assert.deepEqual([...first.scheduler.storedAtAccept.values()], [true, true], 'a task went to the master before it was stored');
    const taskIds = [...first.scheduler.storedAtAccept.keys()];
    for (const id of taskIds.slice(0, 1)) first.scheduler.update(status(id, 'TASK_RUNNING'));
    await first.fw.stop();
    started.length = 0;

    // A new leader on the same state: it must reconcile both tasks before using any offer.
    const second = await start();
    second.scheduler.subscribed();
    await until('the explicit reconciliation', () => second.scheduler.reconciled.length >= 1);
    assert.deepEqual(second.scheduler.reconciled[0]?.map((t) => t.taskId).sort(), [...taskIds].sort());
    // One task is gone: /web wants a launch, but the other answer is still out.
    second.scheduler.update(status(taskIds[1] ?? '', 'TASK_KILLED'));
    second.scheduler.offers([offer('a1')]);
    await until('the offer to be declined', () => second.scheduler.calls.some((c) => c.startsWith('decline')));
    assert.ok(!second.scheduler.calls.some((c) => c.startsWith('accept')), `launched before reconciliation: ${second.scheduler.calls.join('; ')}`);
  });
});
