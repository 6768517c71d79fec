// The durable webhook outbox with a fake store, clock and fetch (pure delivery logic; the end-to-end
// failover of a delivery is in integration-tests/frameworks-failover.test.ts).
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/index.js';
import type { JobDefinition } from './job-definition.js';
import { JobsEngine, type FinishedRun } from './jobs-engine.js';
import { newStatus } from './job-status.js';
import { ManualClock, MemoryStore } from './testing.js';
import type { NotificationFailure, OutboxEntry } from './webhook-outbox.js';
import { deliveryId, type WebhookPayload } from './webhook-payload.js';
import { WebhookNotifier, type WebhookFetch } from './webhooks.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');
const HOOK = 'http://127.0.0.1:9/hook';

interface Call {
  url: string;
  deliveryHeader: string | undefined;
  payload: WebhookPayload;
  /** The outbox entry in the store when the request went out. */
  stored: OutboxEntry | undefined;
}

/** A fake fetch answering from `answer` (a status, or 'hang' until aborted), recording every call. */
function fakeFetch(store: MemoryStore, answer: (n: number) => number | 'hang'): { fetch: WebhookFetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: WebhookFetch = async (url, init) => {
    const payload = JSON.parse(init.body) as WebhookPayload;
    calls.push({ url, deliveryHeader: init.headers['X-Tessera-Delivery'], payload, stored: await store.get<OutboxEntry>(`outbox/${payload.deliveryId}`) });
    const a = answer(calls.length);
    if (a === 'hang') {
      return new Promise<Response>((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    return new Response(null, { status: a });
  };
  return { fetch, calls };
}

/** Waits (real time, a deadline) until `cond` holds: the notifier's steps are promise chains. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function finishedRun(outcome: 'success' | 'failure', seq = 1): FinishedRun {
  const job = { name: 'nightly', command: 'true', successWebhook: HOOK, failureWebhook: `${HOOK}/failed` } as JobDefinition;
  const status = { ...newStatus(T0), successCount: outcome === 'success' ? 1 : 0, errorCount: outcome === 'failure' ? 1 : 0 };
  return { job, status, record: { runId: `nightly:${seq}`, trigger: 'manual', scheduledFor: T0, outcome, attempts: 1, finishedAt: T0 + 1000 } };
}

describe('webhook outbox', () => {
  const notifiers: WebhookNotifier[] = [];
  const make = (store: MemoryStore, clock: ManualClock, fetch: WebhookFetch, extra: { attempts?: number; leading?: () => boolean } = {}): WebhookNotifier => {
    const n = new WebhookNotifier({ store, clock, fetch, logger: silentLogger, baseDelayMs: 500, attempts: extra.attempts ?? 5, ...(extra.leading ? { leading: extra.leading } : {}) });
    notifiers.push(n);
    return n;
  };
  afterEach(async () => {
    await Promise.all(notifiers.splice(0).map((n) => n.stop()));
  });

  it('stores the notification before the first attempt and removes it once delivered', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const { fetch, calls } = fakeFetch(store, () => 204);
    const notifier = make(store, clock, fetch);
    const run = finishedRun('success');
    await notifier.persist(run);
    assert.deepEqual(await store.list('outbox/'), [`outbox/nightly:1@${T0}:job_success`]);
    assert.equal(calls.length, 0, 'persist alone sends nothing');
    notifier.notify(run);
    await until('the delivery settled', async () => calls.length === 1 && (await store.list('outbox/')).length === 0);
    const [call] = calls;
    assert.equal(call?.url, HOOK);
    assert.equal(call.payload.deliveryId, `nightly:1@${T0}:job_success`);
    assert.equal(call.deliveryHeader, `nightly:1@${T0}:job_success`, 'header and body carry the same delivery id');
    assert.equal(call.payload.event, 'job_success');
    assert.equal(call.stored?.attempts, 0, 'the entry was in the store when the request went out');
    assert.deepEqual(notifier.pending(), []);
    assert.equal(notifier.lastFailure('nightly'), undefined);
  });

  it('notify alone stores the entry first, too', async () => {
    const store = new MemoryStore();
    const { fetch, calls } = fakeFetch(store, () => 200);
    const notifier = make(store, new ManualClock(T0), fetch);
    notifier.notify(finishedRun('failure'));
    await until('one call', () => calls.length === 1);
    assert.equal(calls[0]?.url, `${HOOK}/failed`);
    assert.equal(calls[0]?.stored?.deliveryId, `nightly:1@${T0}:job_failure`);
    await until('the entry removed', async () => (await store.list('outbox/')).length === 0);
  });

  it('retries 5xx with backoff, storing the attempt count and next attempt time', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const { fetch, calls } = fakeFetch(store, (n) => (n <= 2 ? 503 : 200));
    const notifier = make(store, clock, fetch);
    notifier.notify(finishedRun('success'));
    await until('attempt 1 recorded', async () => (await store.get<OutboxEntry>(`outbox/nightly:1@${T0}:job_success`))?.attempts === 1);
    const stored = await store.get<OutboxEntry>(`outbox/nightly:1@${T0}:job_success`);
    assert.equal(stored?.nextAttemptAt, T0 + 500);
    assert.equal(stored.lastError, 'HTTP 503');
    clock.advance(499);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 1, 'not before the backoff');
    clock.advance(1);
    await until('attempt 2 recorded', async () => (await store.get<OutboxEntry>(`outbox/nightly:1@${T0}:job_success`))?.attempts === 2);
    assert.equal((await store.get<OutboxEntry>(`outbox/nightly:1@${T0}:job_success`))?.nextAttemptAt, T0 + 500 + 1000, 'the pause doubles');
    clock.advance(1000);
    await until('delivered and removed', async () => calls.length === 3 && (await store.list('outbox/')).length === 0);
    assert.deepEqual(new Set(calls.map((c) => c.payload.deliveryId)), new Set([`nightly:1@${T0}:job_success`]));
  });

  it('a new leader resumes a stored delivery with its remaining attempts; exhausted, it is removed and recorded', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const first = fakeFetch(store, () => 503);
    const old = make(store, clock, first.fetch);
    old.notify(finishedRun('failure', 7));
    clock.advance(0);
    await until('attempt 1 stored', async () => (await store.get<OutboxEntry>(`outbox/nightly:7@${T0}:job_failure`))?.attempts === 1);
    clock.advance(500);
    await until('attempt 2 stored', async () => (await store.get<OutboxEntry>(`outbox/nightly:7@${T0}:job_failure`))?.attempts === 2);
    // The old leader goes (deposed or dead): it sends nothing more, whatever the clock does.
    await old.stop();
    clock.advance(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(first.calls.length, 2);

    const second = fakeFetch(store, () => 503);
    const fresh = make(store, clock, second.fetch);
    assert.equal(await fresh.resume(), 1);
    // Its next attempt time has passed: attempt 3 at once, then 4 and 5 after their pauses, then given up.
    const attempts = async (): Promise<number | undefined> => (await store.get<OutboxEntry>(`outbox/nightly:7@${T0}:job_failure`))?.attempts;
    await until('attempt 3 stored', async () => (await attempts()) === 3);
    clock.advance(2000);
    await until('attempt 4 stored', async () => (await attempts()) === 4);
    clock.advance(4000);
    await until('given up', async () => second.calls.length === 3 && (await store.list('outbox/')).length === 0);
    clock.advance(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(second.calls.length, 3, '5 attempts in all, 2 + 3');
    assert.deepEqual(second.calls.map((c) => c.payload.deliveryId), Array(3).fill(`nightly:7@${T0}:job_failure`));
    const failure = fresh.lastFailure('nightly');
    assert.equal(failure?.attempts, 5);
    assert.match(failure.error, /5 attempts failed: HTTP 503/);
    assert.deepEqual(await store.get<NotificationFailure>('notification-errors/nightly'), failure);
    // And a later leader still knows it.
    const later = make(store, clock, fakeFetch(store, () => 200).fetch);
    assert.equal(await later.resume(), 0);
    assert.deepEqual(later.lastFailure('nightly'), failure);
    await later.forgetJob('nightly');
    assert.equal(await store.get('notification-errors/nightly'), undefined);
  });

  it('a 4xx is final: one attempt, removed, recorded; 429 is retried', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const { fetch, calls } = fakeFetch(store, (n) => (n === 1 ? 429 : 404));
    const notifier = make(store, clock, fetch);
    notifier.notify(finishedRun('success'));
    await until('429 stored as a failed attempt', async () => (await store.get<OutboxEntry>(`outbox/nightly:1@${T0}:job_success`))?.attempts === 1);
    clock.advance(500);
    await until('404 ends it', async () => calls.length === 2 && (await store.list('outbox/')).length === 0);
    clock.advance(60_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 2);
    const failure = notifier.lastFailure('nightly');
    assert.equal(failure?.attempts, 2);
    assert.match(failure.error, /refused it: HTTP 404/);
    assert.equal((await store.get<NotificationFailure>('notification-errors/nightly'))?.deliveryId, `nightly:1@${T0}:job_success`);
  });

  it('stop aborts a request in flight and leaves the entry for the next leader; a non-leader never sends', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const hanging = fakeFetch(store, () => 'hang');
    const old = make(store, clock, hanging.fetch);
    old.notify(finishedRun('success'));
    await until('the request in flight', () => hanging.calls.length === 1);
    await old.stop();
    assert.equal((await store.get<OutboxEntry>(`outbox/nightly:1@${T0}:job_success`))?.attempts, 0, 'an aborted attempt is not counted, the entry stays');

    let leading = false;
    const follower = fakeFetch(store, () => 200);
    const notLeading = make(store, clock, follower.fetch, { leading: () => leading });
    assert.equal(await notLeading.resume(), 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(follower.calls.length, 0, 'not leading: nothing sent');
    await notLeading.stop();

    leading = true;
    const leader = make(store, clock, follower.fetch, { leading: () => leading });
    await leader.resume();
    await until('delivered by the leader', async () => follower.calls.length === 1 && (await store.list('outbox/')).length === 0);
    assert.equal(follower.calls[0]?.deliveryHeader, `nightly:1@${T0}:job_success`);
  });

  it('the engine stores the outbox entry before the finished run record', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const writes: string[] = [];
    const put = store.put.bind(store);
    store.put = async (key, value) => {
      writes.push(key);
      await put(key, value);
    };
    const { fetch, calls } = fakeFetch(store, () => 200);
    const notifier = make(store, clock, fetch);
    const engine = await JobsEngine.load({ store, clock, logger: silentLogger, beforeFinish: (run) => notifier.persist(run) });
    engine.onFinished((run) => notifier.notify(run));
    await engine.upsert({ name: 'a', command: 'true', schedule: 'R/2099-01-01T00:00:00Z/P1D', successWebhook: HOOK }, 'scheduled');
    const run = await engine.runNow('a');
    assert.ok(await engine.markLaunching('a', run.runId, 'task-1', 'agent-1'));
    writes.length = 0;
    await engine.onTaskStatus({ taskId: 'task-1', state: 'TASK_FINISHED' });
    assert.deepEqual(writes.slice(0, 2), [`outbox/${deliveryId(run.runId, run.scheduledFor, 'job_success')}`, 'status/a']);
    await until('delivered', async () => calls.length === 1 && (await store.list('outbox/')).length === 0);
    assert.equal(calls[0]?.payload.successCount, 1);

    // If the record cannot be written after the entry was, the entry is still there for the next leader.
    const run2 = await engine.runNow('a');
    await engine.markLaunching('a', run2.runId, 'task-2', 'agent-1');
    store.put = async (key, value) => {
      if (key.startsWith('status/')) throw new Error('store refused (deposed)');
      await put(key, value);
    };
    await assert.rejects(engine.onTaskStatus({ taskId: 'task-2', state: 'TASK_FINISHED' }), /deposed/);
    assert.deepEqual(await store.list('outbox/'), [`outbox/${deliveryId(run2.runId, run2.scheduledFor, 'job_success')}`]);
    assert.equal(calls.length, 1, 'not sent by this instance: its record was not written');
  });
});
