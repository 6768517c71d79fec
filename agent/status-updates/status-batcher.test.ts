import assert from 'node:assert/strict';
import { RemoteError, silentLogger, waitFor, type TaskStatus } from '../../common/index.js';
import { StatusBatcher, type PostJson } from './status-batcher.js';

function update(taskId: string, uuid: string, state: TaskStatus['state'] = 'TASK_RUNNING'): TaskStatus {
  return { task_id: taskId, state, source: 'SOURCE_EXECUTOR', timestamp: 1, uuid };
}

type Body = { update: TaskStatus } | { updates: TaskStatus[] };

/** Records every POST body and answers with `answer`. */
function recorder(answer: (body: Body) => unknown): { post: PostJson; bodies: Body[] } {
  const bodies: Body[] = [];
  const post = (async (_url: string, body: unknown) => {
    bodies.push(body as Body);
    const result = answer(body as Body);
    if (result instanceof Error) throw result;
    return result;
  }) as PostJson;
  return { post, bodies };
}

function acknowledgeAll(body: Body): unknown {
  return 'updates' in body ? { acknowledged: body.updates.map((u) => u.uuid) } : { acknowledged: body.update.uuid };
}

const link = { masterUrl: 'http://127.0.0.1:1', agentId: 'agent-1' };

describe('status batcher', () => {
  it('sends updates handed in together in one POST, single ones in the single form, and fills in agent_id', async () => {
    const { post, bodies } = recorder(acknowledgeAll);
    const batcher = new StatusBatcher({ logger: silentLogger, post });
    const outcomes = await Promise.all(['a', 'b', 'c'].map((t) => batcher.send(link, update(t, `${t}1`))));
    assert.deepEqual(outcomes, ['acknowledged', 'acknowledged', 'acknowledged']);
    assert.equal(bodies.length, 1);
    const first = bodies[0]!;
    assert.ok('updates' in first);
    assert.deepEqual(first.updates.map((u) => [u.uuid, u.agent_id]), [['a1', 'agent-1'], ['b1', 'agent-1'], ['c1', 'agent-1']]);

    assert.equal(await batcher.send(link, update('a', 'a2')), 'acknowledged');
    assert.equal(bodies.length, 2);
    assert.ok('update' in bodies[1]!);
  });

  it('keeps no more than two batches in flight; what arrives meanwhile waits and travels together', async () => {
    const releases: Array<() => void> = [];
    const bodies: Body[] = [];
    const post = ((_url: string, body: unknown) => {
      bodies.push(body as Body);
      return new Promise<unknown>((resolve) => releases.push(() => resolve(acknowledgeAll(body as Body))));
    }) as PostJson;
    const batcher = new StatusBatcher({ logger: silentLogger, post });
    const sent: Array<Promise<string>> = [];
    sent.push(batcher.send(link, update('a', 'a1')));
    await new Promise((r) => setImmediate(r));
    sent.push(batcher.send(link, update('b', 'b1')));
    await new Promise((r) => setImmediate(r));
    for (const t of ['c', 'd', 'e']) sent.push(batcher.send(link, update(t, `${t}1`)));
    await new Promise((r) => setImmediate(r));
    assert.equal(bodies.length, 2, 'two in flight, the rest wait');
    releases.shift()!();
    await waitFor('the third batch', () => bodies.length === 3, 2_000, 1);
    const third = bodies[2]!;
    assert.ok('updates' in third);
    assert.deepEqual(third.updates.map((u) => u.uuid), ['c1', 'd1', 'e1']);
    while (releases.length > 0) releases.shift()!();
    assert.deepEqual(await Promise.all(sent), Array(5).fill('acknowledged'));
  });

  it('retries what the master did not acknowledge, and reports AGENT_UNKNOWN for the whole batch', async () => {
    const partial = recorder((body) => ('updates' in body ? { acknowledged: [body.updates[0]!.uuid] } : { acknowledged: 'other' }));
    const batcher = new StatusBatcher({ logger: silentLogger, post: partial.post });
    assert.deepEqual(await Promise.all([batcher.send(link, update('a', 'a1')), batcher.send(link, update('b', 'b1'))]), ['acknowledged', 'retry']);
    assert.equal(await batcher.send(link, update('c', 'c1')), 'retry');

    const unknown = recorder(() => new RemoteError('AGENT_UNKNOWN', 'unknown agent', 404));
    const other = new StatusBatcher({ logger: silentLogger, post: unknown.post });
    assert.deepEqual(await Promise.all([other.send(link, update('a', 'a1')), other.send(link, update('b', 'b1'))]), ['agent-unknown', 'agent-unknown']);

    const down = recorder(() => new RemoteError('UNAVAILABLE', 'try later', 503));
    const third = new StatusBatcher({ logger: silentLogger, post: down.post });
    assert.deepEqual(await Promise.all([third.send(link, update('a', 'a1')), third.send(link, update('b', 'b1'))]), ['retry', 'retry']);
  });

  it("reports uuids the master lists as received (forwarded to a framework), in both forms", async () => {
    const { post } = recorder((body) =>
      'updates' in body ? { acknowledged: [body.updates[0]!.uuid], received: [body.updates[1]!.uuid] } : { received: body.update.uuid },
    );
    const batcher = new StatusBatcher({ logger: silentLogger, post });
    const outcomes = await Promise.all([batcher.send(link, update('a', 'a1')), batcher.send(link, update('b', 'b1')), batcher.send(link, update('c', 'c1'))]);
    assert.deepEqual(outcomes, ['acknowledged', 'received', 'retry']);
    assert.equal(await batcher.send(link, update('d', 'd1')), 'received');
  });

  it('when a batch is refused as invalid, sends each update alone so only the invalid one is dropped', async () => {
    const { post, bodies } = recorder((body) => {
      const invalid = (u: TaskStatus): boolean => u.uuid === 'bad';
      if ('updates' in body) return body.updates.some(invalid) ? new RemoteError('INVALID_REQUEST', 'bad', 400) : acknowledgeAll(body);
      return invalid(body.update) ? new RemoteError('INVALID_REQUEST', 'bad', 400) : acknowledgeAll(body);
    });
    const batcher = new StatusBatcher({ logger: silentLogger, post });
    const outcomes = await Promise.all([batcher.send(link, update('a', 'a1')), batcher.send(link, update('b', 'bad')), batcher.send(link, update('c', 'c1'))]);
    assert.deepEqual(outcomes, ['acknowledged', 'rejected', 'acknowledged']);
    assert.equal(bodies.length, 4);
  });

  it('never mixes links in one batch', async () => {
    const urls: string[] = [];
    const post = (async (url: string, body: unknown) => {
      urls.push(url);
      return acknowledgeAll(body as Body);
    }) as PostJson;
    const batcher = new StatusBatcher({ logger: silentLogger, post });
    const other = { masterUrl: 'http://127.0.0.1:2', agentId: 'agent-2' };
    const outcomes = await Promise.all([batcher.send(link, update('a', 'a1')), batcher.send(other, update('b', 'b1'))]);
    assert.deepEqual(outcomes, ['acknowledged', 'acknowledged']);
    assert.deepEqual(urls.sort(), ['http://127.0.0.1:1/internal/v1/agents/agent-1/status', 'http://127.0.0.1:2/internal/v1/agents/agent-2/status']);
  });
});
