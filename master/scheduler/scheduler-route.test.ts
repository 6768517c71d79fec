import {
  TesseraError,
  closeHttpServer,
  errorMiddleware,
  listenHttp,
  silentLogger,
  waitFor,
  offersEvent,
  subscribedEvent,
  type AcceptCall,
  type SubscribeCall,
} from '../../common/index.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import { ForbiddenError } from './errors.js';
import { EventStream, type EventSink } from './event-stream.js';
import type { SchedulerApi } from './scheduler-api.js';
import { schedulerRoute } from './scheduler-route.js';
import { postCall, subscribeRaw, type RawSubscription } from './test-client.js';

/** Records what the route hands it; frameworks named 'refused' are refused with 403. */
class FakeSchedulerApi implements SchedulerApi {
  readonly frameworks = new Map<string, { sink: EventSink; streamId: string; principal: string | undefined }>();
  readonly calls: Array<{ method: string; frameworkId: string; arg?: unknown }> = [];
  readonly disconnected: string[] = [];
  private next = 0;

  subscribe(call: SubscribeCall, sink: EventSink, principal: string | undefined): { frameworkId: string; streamId: string } {
    const info = call.subscribe.framework_info;
    if (info.name === 'refused') throw new ForbiddenError(`role '${info.role ?? '*'}' is not allowed`);
    const frameworkId = info.id?.value ?? `fw-${++this.next}`;
    const streamId = randomUUID();
    sink.send(subscribedEvent(frameworkId, 0.05));
    sink.onClose(() => this.disconnected.push(frameworkId));
    this.frameworks.set(frameworkId, { sink, streamId, principal });
    return { frameworkId, streamId };
  }
  streamIdOf(frameworkId: string): string | undefined {
    return this.frameworks.get(frameworkId)?.streamId;
  }
  principalOf(frameworkId: string): string | undefined {
    return this.frameworks.get(frameworkId)?.principal;
  }
  private record(method: string, frameworkId: string, arg?: unknown): void {
    this.calls.push({ method, frameworkId, arg });
  }
  accept(frameworkId: string, accept: AcceptCall['accept']): void {
    if (accept.offer_ids.some((o) => o.value === 'explode')) throw new Error('boom');
    this.record('accept', frameworkId, accept);
  }
  decline(frameworkId: string, decline: unknown): void {
    this.record('decline', frameworkId, decline);
  }
  kill(frameworkId: string, kill: unknown): void {
    this.record('kill', frameworkId, kill);
  }
  acknowledge(frameworkId: string, ack: unknown): void {
    this.record('acknowledge', frameworkId, ack);
  }
  reconcile(frameworkId: string, reconcile: unknown): void {
    this.record('reconcile', frameworkId, reconcile);
  }
  revive(frameworkId: string, roles: string[] | undefined): void {
    this.record('revive', frameworkId, roles);
  }
  suppress(frameworkId: string, roles: string[] | undefined): void {
    this.record('suppress', frameworkId, roles);
  }
  teardown(frameworkId: string): void {
    this.record('teardown', frameworkId);
  }
}

const SUBSCRIBE = { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'root', name: 'test' } } };
const MAX_BUFFERED = 1024 * 1024;

describe('scheduler route (POST /api/v1/scheduler)', () => {
  let server: Server;
  let port: number;
  let api: FakeSchedulerApi;
  let principals: Map<string, string>;
  const open: RawSubscription[] = [];

  const subscribe = async (body: unknown = SUBSCRIBE, headers: Record<string, string> = {}): Promise<RawSubscription> => {
    const sub = await subscribeRaw(port, body, { headers });
    open.push(sub);
    return sub;
  };

  beforeEach(async () => {
    api = new FakeSchedulerApi();
    principals = new Map([['Basic good', 'alice'], ['Basic other', 'bob']]);
    const app = new Koa();
    app.use(errorMiddleware(silentLogger));
    app.use(
      schedulerRoute(api, {
        logger: silentLogger,
        heartbeatIntervalMs: 50,
        maxBufferedBytes: MAX_BUFFERED,
        authenticate: (authorization) => {
          if (authorization === undefined) return undefined;
          const principal = principals.get(authorization);
          if (principal === undefined) throw new TesseraError('UNAUTHORIZED', 'bad credentials');
          return principal;
        },
      }),
    );
    server = createServer(app.callback());
    port = await listenHttp(server, 0, '127.0.0.1');
  });

  afterEach(async () => {
    for (const sub of open.splice(0)) sub.close();
    await closeHttpServer(server);
  });

  it('streams SUBSCRIBED and then HEARTBEATs with the Mesos-Stream-Id header', async () => {
    const sub = await subscribe();
    assert.equal(sub.status, 200);
    assert.match(String(sub.headers['content-type']), /^application\/json/);
    assert.equal(sub.headers['transfer-encoding'], 'chunked');
    assert.equal(sub.streamId, api.streamIdOf('fw-1'));
    const first = await sub.next();
    assert.deepEqual(first, { type: 'SUBSCRIBED', subscribed: { framework_id: { value: 'fw-1' }, heartbeat_interval_seconds: 0.05 } });
    assert.deepEqual(await sub.next(2000), { type: 'HEARTBEAT' });
    assert.deepEqual(await sub.next(2000), { type: 'HEARTBEAT' });
  });

  it('streams events the master sends later, in order', async () => {
    const sub = await subscribe();
    await sub.nextOfType('SUBSCRIBED');
    const sink = api.frameworks.get('fw-1')?.sink;
    assert.ok(sink);
    sink.send(offersEvent([]));
    sink.send({ type: 'RESCIND', rescind: { offer_id: { value: 'o1' } } });
    assert.equal((await sub.nextOfType('OFFERS')).type, 'OFFERS');
    assert.equal((await sub.nextOfType('RESCIND')).type, 'RESCIND');
  });

  it('answers a refused SUBSCRIBE as a JSON error, not a stream', async () => {
    const sub = await subscribe({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'refused' } } });
    assert.equal(sub.status, 403);
    assert.equal(sub.streamId, undefined);
    assert.equal(JSON.parse(sub.errorBody ?? '').error.code, 'FORBIDDEN');
    const bad = await subscribe({ type: 'SUBSCRIBE', subscribe: { framework_info: { name: 'no user' } } });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.errorBody ?? '').error.field, 'subscribe.framework_info.user');
  });

  it('refuses calls without or with the wrong Mesos-Stream-Id, accepts the right one with 202', async () => {
    const sub = await subscribe();
    await sub.nextOfType('SUBSCRIBED');
    const call = { type: 'DECLINE', framework_id: { value: 'fw-1' }, decline: { offer_ids: [{ value: 'o1' }], filters: { refuse_seconds: 30 } } };

    const missing = await postCall(port, call);
    assert.equal(missing.status, 400);
    assert.equal(JSON.parse(missing.body).error.field, 'Mesos-Stream-Id');

    const wrong = await postCall(port, call, { headers: { 'Mesos-Stream-Id': randomUUID() } });
    assert.equal(wrong.status, 400);
    assert.match(JSON.parse(wrong.body).error.message, /does not match/);
    assert.equal(api.calls.length, 0);

    const right = await postCall(port, call, { headers: { 'Mesos-Stream-Id': sub.streamId ?? '' } });
    assert.equal(right.status, 202);
    assert.equal(right.body, '');
    assert.deepEqual(api.calls, [{ method: 'decline', frameworkId: 'fw-1', arg: call.decline }]);
  });

  it('dispatches every call type to the api', async () => {
    const sub = await subscribe();
    await sub.nextOfType('SUBSCRIBED');
    const headers = { 'Mesos-Stream-Id': sub.streamId ?? '' };
    const fw = { value: 'fw-1' };
    const uuid = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64');
    const calls = [
      { type: 'ACCEPT', framework_id: fw, accept: { offer_ids: [{ value: 'o1' }], operations: [] } },
      { type: 'DECLINE', framework_id: fw, decline: { offer_ids: [{ value: 'o2' }] } },
      { type: 'KILL', framework_id: fw, kill: { task_id: { value: 't' } } },
      { type: 'ACKNOWLEDGE', framework_id: fw, acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid } },
      { type: 'RECONCILE', framework_id: fw, reconcile: { tasks: [] } },
      { type: 'REVIVE', framework_id: fw, revive: { roles: ['web'] } },
      { type: 'SUPPRESS', framework_id: fw },
      { type: 'TEARDOWN', framework_id: fw },
    ];
    for (const call of calls) assert.equal((await postCall(port, call, { headers })).status, 202, call.type);
    assert.deepEqual(
      api.calls.map((c) => c.method),
      ['accept', 'decline', 'kill', 'acknowledge', 'reconcile', 'revive', 'suppress', 'teardown'],
    );
    assert.deepEqual(api.calls[5]?.arg, ['web']);
    assert.equal(api.calls[6]?.arg, undefined);
  });

  it('refuses calls of a framework that is not subscribed (403) and bad calls (400)', async () => {
    const notSubscribed = await postCall(port, { type: 'REVIVE', framework_id: { value: 'nobody' } }, { headers: { 'Mesos-Stream-Id': 'x' } });
    assert.equal(notSubscribed.status, 403);
    assert.match(JSON.parse(notSubscribed.body).error.message, /framework nobody is not subscribed/);

    const noFramework = await postCall(port, { type: 'REVIVE' });
    assert.equal(noFramework.status, 400);
    assert.equal(JSON.parse(noFramework.body).error.field, 'framework_id');

    const badJson = await postCall(port, undefined, { rawBody: '{"type":' });
    assert.equal(badJson.status, 400);

    const badType = await postCall(port, { type: 'NOPE' });
    assert.equal(badType.status, 400);
    assert.equal(JSON.parse(badType.body).error.field, 'type');
  });

  it('answers 500 when the master fails on a call, and the stream carries on', async () => {
    const sub = await subscribe();
    await sub.nextOfType('SUBSCRIBED');
    const res = await postCall(port, { type: 'ACCEPT', framework_id: { value: 'fw-1' }, accept: { offer_ids: [{ value: 'explode' }] } }, {
      headers: { 'Mesos-Stream-Id': sub.streamId ?? '' },
    });
    assert.equal(res.status, 500);
    assert.equal((await sub.nextOfType('HEARTBEAT', 2000)).type, 'HEARTBEAT');
  });

  it('refuses protobuf and other media types with 415, and other methods with 405', async () => {
    const protobuf = await postCall(port, SUBSCRIBE, { headers: { 'content-type': 'application/x-protobuf' } });
    assert.equal(protobuf.status, 415);
    assert.match(JSON.parse(protobuf.body).error.message, /protobuf/);
    const text = await postCall(port, SUBSCRIBE, { headers: { 'content-type': 'text/plain' } });
    assert.equal(text.status, 415);
    const withCharset = await subscribe(SUBSCRIBE, { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(withCharset.status, 200);
    const onlyProtobuf = await subscribe(SUBSCRIBE, { accept: 'application/x-protobuf' });
    assert.equal(onlyProtobuf.status, 406);
    const get = await fetch(`http://127.0.0.1:${port}/api/v1/scheduler`);
    assert.equal(get.status, 405);
  });

  it('authenticates: 401 for bad credentials, principal passed to subscribe and checked on calls', async () => {
    const denied = await subscribe(SUBSCRIBE, { authorization: 'Basic wrong' });
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers['www-authenticate']), /^Basic/);

    const sub = await subscribe(SUBSCRIBE, { authorization: 'Basic good' });
    assert.equal(sub.status, 200);
    assert.equal(api.frameworks.get('fw-1')?.principal, 'alice');
    const call = { type: 'REVIVE', framework_id: { value: 'fw-1' } };
    const headers = { 'Mesos-Stream-Id': sub.streamId ?? '' };
    assert.equal((await postCall(port, call, { headers: { ...headers, authorization: 'Basic other' } })).status, 403);
    assert.equal((await postCall(port, call, { headers: { ...headers, authorization: 'Basic good' } })).status, 202);
  });

  it('refuses a SUBSCRIBE that carries a Mesos-Stream-Id', async () => {
    const sub = await subscribe(SUBSCRIBE, { 'Mesos-Stream-Id': 'abc' });
    assert.equal(sub.status, 400);
  });

  it('tells the master when the subscriber goes away, and ends the stream on close()', async () => {
    const a = await subscribe();
    const b = await subscribe();
    await a.nextOfType('SUBSCRIBED');
    await b.nextOfType('SUBSCRIBED');
    a.close();
    await waitFor('disconnect noticed', () => api.disconnected.includes('fw-1'), 5000);
    assert.equal(api.frameworks.get('fw-1')?.sink.closed, true);

    const sinkB = api.frameworks.get('fw-2')?.sink;
    sinkB?.send({ type: 'ERROR', error: { message: 'framework removed' } });
    sinkB?.close();
    assert.equal((await b.nextOfType('ERROR')).type, 'ERROR');
    await b.ended;
    assert.ok(api.disconnected.includes('fw-2'));
  });

  it('cuts a subscriber that stops reading, without delaying another one', async function () {
    this.timeout(20_000);
    const slow = await subscribe();
    const fast = await subscribe();
    await slow.nextOfType('SUBSCRIBED');
    await fast.nextOfType('SUBSCRIBED');
    slow.pause();
    const sink = api.frameworks.get('fw-1')?.sink;
    assert.ok(sink instanceof EventStream);

    // ~64 KB offers events until the stream gives up; 256 MB would be sent if it never did.
    const offer = {
      id: { value: 'o' },
      framework_id: { value: 'fw-1' },
      agent_id: { value: 'a' },
      hostname: 'h'.repeat(64 * 1024),
      resources: [],
    };
    const recordSize = JSON.stringify(offersEvent([offer])).length + 8;
    let sent = 0;
    let maxBuffered = 0;
    const started = Date.now();
    while (!sink.closed && sent < 4096) {
      sink.send(offersEvent([offer]));
      sent++;
      if (!sink.closed) maxBuffered = Math.max(maxBuffered, sink.bufferedBytes);
      // Let the event loop run now and then so the kernel and the other stream make progress.
      if (sent % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(sink.closed, true, `stream still open after ${sent} events`);
    assert.ok(sent < 4096);
    assert.ok(maxBuffered <= MAX_BUFFERED + recordSize, `buffered ${maxBuffered} bytes`);
    assert.ok(Date.now() - started < 5000, 'send() must never wait for the slow reader');
    await waitFor('slow subscriber disconnected', () => api.disconnected.includes('fw-1'), 5000);
    // The other subscriber keeps getting its heartbeats on time.
    const t0 = Date.now();
    await fast.nextOfType('HEARTBEAT', 2000);
    await fast.nextOfType('HEARTBEAT', 2000);
    assert.ok(Date.now() - t0 < 1000);
    await slow.ended;
  });
});
