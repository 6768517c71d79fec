// End-to-end tests of the Mesos v1 scheduler HTTP API on real Tessera masters and agents. The
// framework here is written from Mesos's own documents (docs/scheduler-http-api.md, docs/recordio.md)
// with nothing but node:http — none of Tessera's scheduler code — so these tests check the wire
// contract a real Mesos framework relies on, not our own reading of it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { requestJson } from '../common/index.js';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';
import { HaCluster } from './harness/ha-cluster.js';
import { waitFor } from './harness/wait.js';
import { ZooKeeperServer } from './harness/zookeeper.js';

type Json = Record<string, unknown>;

interface MesosEvent {
  type: string;
  [key: string]: unknown;
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** `POST url` with a JSON body (or raw text for malformed-body tests); no connection reuse. */
function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`POST ${url}: no answer within 15 s`)));
    req.end(payload);
  });
}

/**
 * RecordIO as docs/recordio.md describes it: each record is its length in bytes as ASCII decimal,
 * a '\n', then exactly that many bytes. Records may be split across chunks in any way.
 */
class RecordIoReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** Feeds a chunk; returns the complete records it finished. Throws on a malformed length. */
  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const records: Buffer[] = [];
    for (;;) {
      const newline = this.buffer.indexOf(0x0a);
      if (newline < 0) {
        if (this.buffer.length > 20) throw new Error('RecordIO: record length header longer than 20 bytes');
        return records;
      }
      const header = this.buffer.subarray(0, newline).toString('ascii');
      if (!/^\d+$/.test(header)) throw new Error(`RecordIO: bad record length '${header}'`);
      const length = Number(header);
      const end = newline + 1 + length;
      if (this.buffer.length < end) return records;
      records.push(this.buffer.subarray(newline + 1, end));
      this.buffer = this.buffer.subarray(end);
    }
  }

  /** Bytes of an unfinished record left over (must be 0 when a stream ends cleanly). */
  get leftover(): number {
    return this.buffer.length;
  }
}

/** A SUBSCRIBE connection: its answer, and its event stream decoded as it arrives. */
class Subscription {
  /** Every event received, in order. */
  readonly history: Array<{ event: MesosEvent; at: number }> = [];
  /** Events not yet taken by take(). */
  private unread: MesosEvent[] = [];
  private wakers = new Set<() => void>();
  private endedFlag = false;
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  bytesReceived = 0;
  private res: http.IncomingMessage | undefined;
  private req: http.ClientRequest | undefined;
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  /** The body of a non-200 answer. */
  errorText = '';
  streamError: Error | undefined;

  private constructor() {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** POSTs the SUBSCRIBE call; resolves once the status line and headers (and, if not 200, the body) are in. */
  static open(url: string, body: Json, headers: Record<string, string> = {}): Promise<Subscription> {
    const sub = new Subscription();
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(payload), ...headers },
      });
      sub.req = req;
      req.on('error', (err) => {
        if (sub.status === 0) reject(err);
        else sub.finish(err);
      });
      req.on('response', (res) => {
        sub.res = res;
        sub.status = res.statusCode ?? 0;
        sub.headers = res.headers;
        if (sub.status !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            sub.errorText = Buffer.concat(chunks).toString('utf8');
            sub.finish();
            resolve(sub);
          });
          res.on('error', reject);
          return;
        }
        const reader = new RecordIoReader();
        res.on('data', (chunk: Buffer) => {
          sub.bytesReceived += chunk.length;
          try {
            for (const record of reader.push(chunk)) sub.deliver(JSON.parse(record.toString('utf8')) as MesosEvent);
          } catch (err) {
            sub.finish(err as Error);
            req.destroy();
          }
        });
        res.on('end', () => sub.finish(reader.leftover > 0 ? new Error(`stream ended inside a record (${reader.leftover} bytes)`) : undefined));
        res.on('close', () => sub.finish());
        res.on('error', (err) => sub.finish(err));
        resolve(sub);
      });
      req.end(payload);
    });
  }

  get streamId(): string | undefined {
    const id = this.headers['mesos-stream-id'];
    return typeof id === 'string' ? id : undefined;
  }

  get isEnded(): boolean {
    return this.endedFlag;
  }

  /** Drops the connection (as a crashed scheduler would). */
  close(): void {
    this.req?.destroy();
    this.res?.destroy();
    this.finish();
  }

  /** Stops reading the socket (a slow scheduler); resume() reads again. */
  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  /** Takes the first unread event `pick` accepts (waiting for it up to `timeoutMs`); other events stay unread. */
  async take<T>(what: string, pick: (event: MesosEvent) => T | undefined, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.unread.length; i++) {
        const value = pick(this.unread[i]!);
        if (value !== undefined) {
          this.unread.splice(i, 1);
          return value;
        }
      }
      if (this.endedFlag) throw new Error(`${what}: the event stream ended (${this.streamError?.message ?? 'closed'})`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${what}: no such event within ${timeoutMs} ms; unread: ${this.unread.map(describeEvent).join(' | ') || 'none'}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wakers.add(done);
      });
    }
  }

  /** Takes the next unread event of `type`. */
  takeType(type: string, timeoutMs?: number): Promise<MesosEvent> {
    return this.take(`a ${type} event`, (e) => (e.type === type ? e : undefined), timeoutMs);
  }

  /** Removes and returns every unread event `pick` accepts, without waiting. */
  drain(pick: (event: MesosEvent) => boolean): MesosEvent[] {
    const taken = this.unread.filter(pick);
    this.unread = this.unread.filter((e) => !pick(e));
    return taken;
  }

  /** Called for every event as it arrives (after it is queued as unread). */
  onEvent: ((event: MesosEvent) => void) | undefined;

  private deliver(event: MesosEvent): void {
    this.history.push({ event, at: Date.now() });
    this.unread.push(event);
    this.onEvent?.(event);
    this.wakeAll();
  }

  private finish(err?: Error): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    if (err) this.streamError = err;
    this.resolveEnded();
    this.wakeAll();
  }

  private wakeAll(): void {
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) wake();
  }
}

function describeEvent(event: MesosEvent): string {
  if (event.type === 'UPDATE') {
    const status = (event.update as { status: MesosStatus }).status;
    return `UPDATE ${status.task_id.value} ${status.state}${status.reason ? ` ${status.reason}` : ''}`;
  }
  return event.type;
}

// ---- the Mesos v1 JSON shapes the tests read ----------------------------------------------------

interface MesosId {
  value: string;
}

interface MesosResource {
  name: string;
  type: string;
  scalar?: { value: number };
  ranges?: { range: Array<{ begin: number; end: number }> };
}

interface MesosOffer {
  id: MesosId;
  framework_id: MesosId;
  agent_id: MesosId;
  hostname: string;
  resources: MesosResource[];
}

interface MesosStatus {
  task_id: MesosId;
  agent_id?: MesosId;
  state: string;
  reason?: string;
  message?: string;
  source?: string;
  uuid?: string;
  timestamp?: number;
}

const scalar = (name: string, value: number): MesosResource => ({ name, type: 'SCALAR', scalar: { value } });
const portRange = (begin: number, end: number): MesosResource => ({ name: 'ports', type: 'RANGES', ranges: { range: [{ begin, end }] } });

function scalarOf(offer: MesosOffer, name: string): number {
  return offer.resources.filter((r) => r.name === name).reduce((sum, r) => sum + (r.scalar?.value ?? 0), 0);
}

function offersOf(event: MesosEvent): MesosOffer[] {
  return (event.offers as { offers: MesosOffer[] }).offers;
}

function statusOf(event: MesosEvent): MesosStatus {
  return (event.update as { status: MesosStatus }).status;
}

/** A protocol-relative `Location: //host:port/path` (as Mesos masters send) made absolute. */
function resolveLocation(location: string, base: string): string {
  if (location.startsWith('//')) return `${new URL(base).protocol}${location}`;
  return new URL(location, base).toString();
}

// ---- a framework on top of it ----------------------------------------------------------------------

const SCHEDULER_PATH = '/api/v1/scheduler';

class Framework {
  /** Updates this framework acknowledged (uuid), in order. */
  readonly acked: string[] = [];
  private ackErrors: string[] = [];

  private constructor(
    readonly masterUrl: string,
    readonly sub: Subscription,
    readonly id: string,
    readonly subscribed: Json,
  ) {}

  /** SUBSCRIBE at `masterUrl` (no redirects); asserts 200 and SUBSCRIBED first. */
  static async subscribe(masterUrl: string, info: Json, opened: Subscription[]): Promise<Framework> {
    const body: Json = { type: 'SUBSCRIBE', subscribe: { framework_info: info } };
    const id = (info.id as MesosId | undefined)?.value;
    if (id !== undefined) body.framework_id = { value: id };
    const sub = await Subscription.open(`${masterUrl}${SCHEDULER_PATH}`, body);
    opened.push(sub);
    return Framework.fromSubscription(masterUrl, sub);
  }

  static async fromSubscription(masterUrl: string, sub: Subscription): Promise<Framework> {
    assert.equal(sub.status, 200, `SUBSCRIBE answered ${sub.status}: ${sub.errorText}`);
    const first = await sub.take('the first event', (e) => e, 10_000);
    assert.equal(first.type, 'SUBSCRIBED', `the first event is ${describeEvent(first)}`);
    const subscribed = first.subscribed as Json;
    const id = (subscribed.framework_id as MesosId).value;
    return new Framework(masterUrl, sub, id, subscribed);
  }

  /** A call with this framework's id and stream id. */
  call(type: string, fields: Json = {}, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return postJson(
      `${this.masterUrl}${SCHEDULER_PATH}`,
      { type, framework_id: { value: this.id }, ...fields },
      { 'Mesos-Stream-Id': this.sub.streamId ?? '', ...headers },
    );
  }

  async call202(type: string, fields: Json = {}): Promise<void> {
    const answer = await this.call(type, fields);
    assert.equal(answer.status, 202, `${type} answered ${answer.status}: ${answer.text}`);
  }

  async nextOffer(timeoutMs = 10_000): Promise<MesosOffer> {
    const event = await this.sub.takeType('OFFERS', timeoutMs);
    const offers = offersOf(event);
    assert.ok(offers.length > 0, 'an OFFERS event with no offers');
    // Several offers in one event: the others go back for the next test step to see again.
    if (offers.length > 1) await this.call202('DECLINE', { decline: { offer_ids: offers.slice(1).map((o) => o.id), filters: { refuse_seconds: 0 } } });
    return offers[0]!;
  }

  /** The next update of `taskId` (in `states`, if given), taken from the unread events. */
  nextUpdate(taskId: string, states?: string[], timeoutMs = 20_000): Promise<MesosStatus> {
    return this.sub.take(
      `an update of ${taskId}${states ? ` in ${states.join('|')}` : ''}`,
      (e) => {
        if (e.type !== 'UPDATE') return undefined;
        const status = statusOf(e);
        return status.task_id.value === taskId && (states === undefined || states.includes(status.state)) ? status : undefined;
      },
      timeoutMs,
    );
  }

  /** The next reconciliation answer about `taskId` (other updates of it stay queued). */
  reconciled(taskId: string, timeoutMs = 20_000): Promise<MesosStatus> {
    return this.sub.take(
      `a reconciliation answer about ${taskId}`,
      (e) => {
        if (e.type !== 'UPDATE') return undefined;
        const status = statusOf(e);
        return status.task_id.value === taskId && status.reason === 'REASON_RECONCILIATION' ? status : undefined;
      },
      timeoutMs,
    );
  }

  async ack(status: MesosStatus): Promise<void> {
    assert.ok(status.uuid !== undefined, `update ${status.task_id.value} ${status.state} has no uuid to acknowledge`);
    assert.ok(status.agent_id !== undefined, `update ${status.task_id.value} ${status.state} has no agent_id`);
    await this.call202('ACKNOWLEDGE', { acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid } });
    this.acked.push(status.uuid);
  }

  /** From now on every update with a uuid (from an agent) is acknowledged as it arrives. */
  autoAck(): void {
    this.sub.onEvent = (event) => {
      if (event.type !== 'UPDATE') return;
      const status = statusOf(event);
      if (status.uuid === undefined || status.agent_id === undefined) return;
      this.ack(status).catch((err: unknown) => this.ackErrors.push(String(err)));
    };
  }

  assertAcksOk(): void {
    assert.deepEqual(this.ackErrors, []);
  }

  launch(offers: MesosOffer | MesosOffer[], tasks: Json[], refuseSeconds = 0): Promise<HttpAnswer> {
    const list = Array.isArray(offers) ? offers : [offers];
    return this.call('ACCEPT', {
      accept: {
        offer_ids: list.map((o) => o.id),
        operations: [{ type: 'LAUNCH', launch: { task_infos: tasks } }],
        filters: { refuse_seconds: refuseSeconds },
      },
    });
  }

  decline(offer: MesosOffer, refuseSeconds: number): Promise<HttpAnswer> {
    return this.call('DECLINE', { decline: { offer_ids: [offer.id], filters: { refuse_seconds: refuseSeconds } } });
  }
}

const frameworkInfo = (name: string, extra: Json = {}): Json => ({ user: 'root', name, ...extra });

function commandTask(taskId: string, offer: MesosOffer, cpus: number, mem: number, command: string, extra: MesosResource[] = []): Json {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: offer.agent_id,
    resources: [scalar('cpus', cpus), scalar('mem', mem), ...extra],
    command: { value: command },
  };
}

function dockerTask(taskId: string, offer: MesosOffer, cpus: number, mem: number, command: string, extra: MesosResource[] = []): Json {
  return {
    ...commandTask(taskId, offer, cpus, mem, command, extra),
    container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'HOST' } },
  };
}

interface AgentTaskView {
  id: string;
  state: string;
  directory?: string;
}

async function agentTasks(agentUrl: string): Promise<AgentTaskView[]> {
  const state = await requestJson<{ tasks: AgentTaskView[]; completed_tasks?: AgentTaskView[] }>(`${agentUrl}/state`);
  return [...state.tasks, ...(state.completed_tasks ?? [])];
}

async function agentTask(agentUrl: string, taskId: string): Promise<AgentTaskView | undefined> {
  return (await agentTasks(agentUrl)).find((t) => t.id === taskId);
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The error body names `field` (as `error.field`, or at least in the message). */
function assertNamesField(answer: HttpAnswer, field: string): void {
  assert.equal(answer.status, 400, `expected 400 naming ${field}, got ${answer.status}: ${answer.text}`);
  let named: string | undefined;
  try {
    named = (JSON.parse(answer.text) as { error?: { field?: string } }).error?.field;
  } catch {
    // a plain-text error (as Mesos answers) must name the field in the text
  }
  assert.ok(named === field || answer.text.includes(field), `the 400 does not name ${field}: ${answer.text}`);
}

// ---- the tests -------------------------------------------------------------------------------------

describe('Mesos v1 scheduler API end to end (a framework on node:http, real master and agents)', function () {
  this.timeout(120_000);
  const opened: Subscription[] = [];

  afterEach(() => {
    for (const sub of opened.splice(0)) sub.close();
  });

  describe('one framework: subscribe, offers, launch (docker and command), updates, acks, reconcile, kill, teardown', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'on', '--resources', 'cpus:2;mem:1024'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('goes through a framework’s whole life', async () => {
      const agent = cluster.agents[0]!;
      const sub = await Subscription.open(`${cluster.masterUrl}${SCHEDULER_PATH}`, {
        type: 'SUBSCRIBE',
        subscribe: { framework_info: frameworkInfo('e2e-life') },
      });
      opened.push(sub);
      assert.equal(sub.status, 200, sub.errorText);
      assert.ok(sub.streamId && sub.streamId.length > 0, 'a Mesos-Stream-Id header');
      assert.match(String(sub.headers['content-type']), /^application\/json/);
      const fw = await Framework.fromSubscription(cluster.masterUrl, sub);
      assert.ok(fw.id.length > 0, 'SUBSCRIBED.framework_id.value');
      assert.equal(typeof fw.subscribed.heartbeat_interval_seconds, 'number');
      assert.ok((fw.subscribed.heartbeat_interval_seconds as number) > 0);

      const offer = await fw.nextOffer();
      assert.ok(offer.id.value.length > 0 && offer.agent_id.value.length > 0 && offer.hostname.length > 0);
      assert.equal(offer.framework_id.value, fw.id);
      const byName = new Map(offer.resources.map((r) => [r.name, r]));
      assert.deepEqual(byName.get('cpus')?.type, 'SCALAR');
      assert.equal(scalarOf(offer, 'cpus'), 2);
      assert.equal(scalarOf(offer, 'mem'), 1024);
      assert.equal(byName.get('disk')?.type, 'SCALAR', `offer resources: ${JSON.stringify(offer.resources)}`);
      assert.ok(scalarOf(offer, 'disk') > 0);
      assert.equal(byName.get('ports')?.type, 'RANGES');
      assert.deepEqual(byName.get('ports')?.ranges, { range: [{ begin: 31000, end: 32000 }] });

      const accepted = await fw.launch(offer, [
        dockerTask('web', offer, 0.1, 32, 'echo "PORT0=$PORT0 PORT=$PORT"', [portRange(31007, 31007)]),
        commandTask('sleeper', offer, 0.1, 32, 'sleep 30'),
      ]);
      assert.equal(accepted.status, 202, accepted.text);

      // The docker task: every update acknowledged as it comes (the agent holds the next one until then).
      const webStates: string[] = [];
      for (;;) {
        const status = await fw.nextUpdate('web', undefined, 30_000);
        assert.equal(status.source, 'SOURCE_EXECUTOR', `${status.state} ${status.message ?? ''}`);
        assert.equal(status.agent_id?.value, offer.agent_id.value);
        assert.equal(Buffer.from(status.uuid ?? '', 'base64').length, 16, `uuid '${status.uuid}' is 16 bytes base64`);
        await fw.ack(status);
        if (webStates.at(-1) !== status.state) webStates.push(status.state);
        if (['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED'].includes(status.state)) break;
      }
      assert.deepEqual(webStates, ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
      const web = await agentTask(agent.url, 'web');
      assert.ok(web?.directory, 'the agent knows the docker task');
      const stdout = await requestJson<{ data: string }>(`${agent.url}/files/read?path=${encodeURIComponent(`${web.directory}/stdout`)}&offset=0`);
      assert.match(stdout.data, /PORT0=31007 PORT=31007/);

      // The command task: acknowledged up to RUNNING.
      for (;;) {
        const status = await fw.nextUpdate('sleeper', undefined, 20_000);
        await fw.ack(status);
        if (status.state === 'TASK_RUNNING') break;
        assert.equal(status.state, 'TASK_STARTING');
      }

      // Explicit reconciliation: a known task and an unknown one; answers carry no uuid.
      await fw.call202('RECONCILE', {
        reconcile: { tasks: [{ task_id: { value: 'sleeper' }, agent_id: offer.agent_id }, { task_id: { value: 'never-was' } }] },
      });
      const known = await fw.reconciled('sleeper');
      assert.equal(known.state, 'TASK_RUNNING');
      assert.equal(known.uuid, undefined, 'a reconciliation answer has nothing to acknowledge');
      const unknown = await fw.reconciled('never-was');
      assert.equal(unknown.state, 'TASK_LOST');
      // Implicit: every task the master knows to be live.
      await fw.call202('RECONCILE', { reconcile: { tasks: [] } });
      const implicit = await fw.reconciled('sleeper');
      assert.equal(implicit.state, 'TASK_RUNNING');
      assert.equal(implicit.uuid, undefined);

      await fw.call202('KILL', { kill: { task_id: { value: 'sleeper' }, agent_id: offer.agent_id } });
      const killStates: string[] = [];
      for (;;) {
        const status = await fw.nextUpdate('sleeper', undefined, 20_000);
        if (status.uuid !== undefined) await fw.ack(status);
        killStates.push(status.state);
        if (status.state === 'TASK_KILLED') break;
        assert.equal(status.state, 'TASK_KILLING', `while killing: ${status.state} (${status.message ?? ''})`);
      }
      await waitFor('the agent ended the killed task', async () => ((await agentTask(agent.url, 'sleeper'))?.state === 'TASK_KILLED' ? true : undefined));

      await fw.call202('TEARDOWN');
      await Promise.race([fw.sub.ended, sleepMs(10_000).then(() => assert.fail('the event stream did not end after TEARDOWN'))]);
      const after = await fw.call('REVIVE');
      assert.equal(after.status, 403, `a call of a torn-down framework: ${after.status} ${after.text}`);
      const back = await Subscription.open(`${cluster.masterUrl}${SCHEDULER_PATH}`, {
        type: 'SUBSCRIBE',
        framework_id: { value: fw.id },
        subscribe: { framework_info: frameworkInfo('e2e-life', { id: { value: fw.id } }) },
      });
      opened.push(back);
      assert.equal(back.status, 403, `re-subscribing a torn-down framework: ${back.status} ${back.errorText}`);
      // Last, so that everything above is checked too: Mesos sends TASK_KILLING only to frameworks
      // with the TASK_KILLING_STATE capability, which this one did not declare.
      assert.deepEqual(killStates, ['TASK_KILLED'], 'TASK_KILLING sent to a framework without TASK_KILLING_STATE');
    });
  });

  describe('status updates are re-sent until acknowledged', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'off', '--resources', 'cpus:1;mem:512'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('re-sends an unacknowledged TASK_RUNNING with the same uuid, and holds TASK_FINISHED until the ack', async () => {
      const fw = await Framework.subscribe(cluster.masterUrl, frameworkInfo('e2e-acks'), opened);
      const offer = await fw.nextOffer();
      assert.equal((await fw.launch(offer, [commandTask('brief', offer, 0.1, 32, 'sleep 1')])).status, 202);
      let running = await fw.nextUpdate('brief', ['TASK_STARTING', 'TASK_RUNNING']);
      if (running.state === 'TASK_STARTING') {
        await fw.ack(running);
        running = await fw.nextUpdate('brief', ['TASK_RUNNING']);
      }
      const runningAt = Date.now();
      // Not acknowledged: the agent sends it again (its retry backoff starts at ~1 s), same uuid.
      const again = await fw.nextUpdate('brief', undefined, 15_000);
      assert.equal(again.state, 'TASK_RUNNING', 'the next update of the task waits for the acknowledgement');
      assert.equal(again.uuid, running.uuid);
      // The task itself is done after ~1 s; its TASK_FINISHED must still wait for our acknowledgement.
      await waitFor('the agent saw the task end', async () => {
        const t = await agentTask(cluster.agents[0]!.url, 'brief');
        return t && t.state !== 'TASK_RUNNING' && t.state !== 'TASK_STARTING' ? true : undefined;
      }, 10_000);
      await sleepMs(Math.max(0, runningAt + 3000 - Date.now()));
      const early = fw.sub.drain((e) => e.type === 'UPDATE' && statusOf(e).task_id.value === 'brief');
      assert.ok(early.every((e) => statusOf(e).state === 'TASK_RUNNING' && statusOf(e).uuid === running.uuid),
        `before the ack only TASK_RUNNING re-sends may come: ${early.map(describeEvent).join(', ')}`);
      const acknowledgedAt = Date.now();
      await fw.ack(running);
      const finished = await fw.nextUpdate('brief', ['TASK_FINISHED'], 15_000);
      assert.notEqual(finished.uuid, running.uuid);
      const finishedAt = fw.sub.history.find((h) => h.event.type === 'UPDATE' && statusOf(h.event).state === 'TASK_FINISHED')?.at ?? 0;
      assert.ok(finishedAt >= acknowledgedAt, 'TASK_FINISHED arrived only after the acknowledgement');
      await fw.ack(finished);
      await fw.call202('TEARDOWN');
    });
  });

  describe('DRF between two frameworks', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'off', '--resources', 'cpus:4;mem:4096'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('ends with dominant shares within one task of each other', async () => {
      const total = { cpus: 4, mem: 4096 };
      const shapes = { A: { cpus: 0.5, mem: 256 }, B: { cpus: 0.1, mem: 1024 } };
      const a = await Framework.subscribe(cluster.masterUrl, frameworkInfo('drf-a'), opened);
      const b = await Framework.subscribe(cluster.masterUrl, frameworkInfo('drf-b'), opened);
      a.autoAck();
      b.autoAck();
      const launched = { A: 0, B: 0 };
      const full = { A: false, B: false };
      const perTask = { A: shapes.A.cpus / total.cpus, B: shapes.B.mem / total.mem };
      const share = (name: 'A' | 'B'): number => launched[name] * perTask[name];
      const fitsShape = (offer: MesosOffer, s: { cpus: number; mem: number }): boolean =>
        scalarOf(offer, 'cpus') + 1e-9 >= s.cpus && scalarOf(offer, 'mem') >= s.mem;
      /** Each offer as it came: who got it, both shares then, whether the other could have used it. */
      const log: string[] = [];
      const violations: string[] = [];
      let sharesWhenFirstFull: { A: number; B: number } | undefined;
      // Each framework takes one task per offer, as long as one fits, and gives the rest straight back:
      // who gets the (single) agent next is then the allocator's choice, cycle by cycle.
      const run = async (name: 'A' | 'B', fw: Framework): Promise<void> => {
        const other = name === 'A' ? 'B' : 'A';
        const shape = shapes[name];
        while (!full[name]) {
          let offer: MesosOffer;
          try {
            offer = await fw.nextOffer(6000);
          } catch {
            return; // no more offers: the agent is used up (or the other framework holds it)
          }
          log.push(`${name} offered cpus ${scalarOf(offer, 'cpus')} mem ${scalarOf(offer, 'mem')} at shares A ${share('A')} B ${share('B')}`);
          // DRF: the resources go to the framework furthest below its share, among those that can use them.
          if (!full[other] && fitsShape(offer, shapes[other]) && share(other) + 1e-9 < share(name)) {
            violations.push(`${name} (share ${share(name)}) was offered what ${other} (share ${share(other)}) could use`);
          }
          if (fitsShape(offer, shape)) {
            const id = `${name.toLowerCase()}-${launched[name]}`;
            // Counted before the call: the next offer (to either) can come before its 202 is read here.
            launched[name] += 1;
            const answer = await fw.launch(offer, [commandTask(id, offer, shape.cpus, shape.mem, 'sleep 60')], 0);
            assert.equal(answer.status, 202, answer.text);
            const status = await fw.nextUpdate(id, undefined, 15_000);
            assert.ok(['TASK_STARTING', 'TASK_RUNNING'].includes(status.state), `${id}: ${status.state} ${status.message ?? ''}`);
          } else {
            full[name] = true;
            sharesWhenFirstFull ??= { A: share('A'), B: share('B') };
            assert.equal((await fw.decline(offer, 60)).status, 202);
          }
        }
      };
      await Promise.all([run('A', a), run('B', b)]);
      const report = `A launched ${launched.A} (share ${share('A')}), B launched ${launched.B} (share ${share('B')}); offers:\n${log.join('\n')}`;
      assert.ok(launched.A > 0 && launched.B > 0, report);
      assert.deepEqual(violations, [], report);
      // Until one of them could fit no more, their dominant shares stayed within one task of each other
      // (after that the other one may take what is left: progressive filling).
      assert.ok(sharesWhenFirstFull, report);
      assert.ok(sharesWhenFirstFull.A - perTask.A <= sharesWhenFirstFull.B + 1e-9, report);
      assert.ok(sharesWhenFirstFull.B - perTask.B <= sharesWhenFirstFull.A + 1e-9, report);
      // And the agent was used up: neither shape fits in what is left.
      const usedCpus = launched.A * shapes.A.cpus + launched.B * shapes.B.cpus;
      const usedMem = launched.A * shapes.A.mem + launched.B * shapes.B.mem;
      const fits = (s: { cpus: number; mem: number }): boolean => usedCpus + s.cpus <= total.cpus + 1e-9 && usedMem + s.mem <= total.mem;
      assert.ok(!fits(shapes.A) && !fits(shapes.B), `${report}; resources left over`);
      a.assertAcksOk();
      b.assertAcksOk();
      await a.call202('TEARDOWN');
      await b.call202('TEARDOWN');
    });
  });

  describe('decline filters, invalid offers, malformed calls', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'off', '--resources', 'cpus:1;mem:512'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('keeps a declined agent from the framework for refuse_seconds while another framework gets it', async () => {
      const a = await Framework.subscribe(cluster.masterUrl, frameworkInfo('decline-a'), opened);
      const offer = await a.nextOffer();
      const b = await Framework.subscribe(cluster.masterUrl, frameworkInfo('decline-b'), opened);
      const refuseSeconds = 4;
      const declinedAt = Date.now();
      assert.equal((await a.decline(offer, refuseSeconds)).status, 202);
      // B gets the agent, declines it for 1 s at a time; A must hear nothing of it for 4 s.
      let offersToB = 0;
      let aBack = false;
      const bLoop = (async () => {
        while (!aBack && Date.now() < declinedAt + 20_000) {
          const o = await b.nextOffer(500).catch(() => undefined);
          if (!o) continue;
          offersToB += 1;
          await b.decline(o, 1);
        }
      })();
      const next = await a.nextOffer(15_000);
      const waited = Date.now() - declinedAt;
      aBack = true;
      await bLoop;
      assert.equal(next.agent_id.value, offer.agent_id.value);
      assert.ok(waited >= refuseSeconds * 1000, `A was offered the agent again after ${waited} ms (refuse_seconds ${refuseSeconds})`);
      assert.ok(offersToB >= 1, 'the other framework got the agent meanwhile');
      const bOffers = b.sub.history.filter((h) => h.event.type === 'OFFERS' && h.at < declinedAt + refuseSeconds * 1000);
      assert.ok(bOffers.length >= 1, 'B was offered the agent inside A’s filter period');
      assert.equal((await a.decline(next, 0)).status, 202);
      await a.call202('TEARDOWN');
      await b.call202('TEARDOWN');
    });

    it('drops tasks launched on used, declined, unknown and rescinded offers (TASK_DROPPED)', async () => {
      const fw = await Framework.subscribe(cluster.masterUrl, frameworkInfo('invalid-offers'), opened);
      fw.autoAck();
      const offer = await fw.nextOffer();
      assert.equal((await fw.launch(offer, [commandTask('first', offer, 0.1, 32, 'sleep 30')], 0)).status, 202);
      await fw.nextUpdate('first', ['TASK_RUNNING']);
      // The same (used) offer again.
      assert.equal((await fw.launch(offer, [commandTask('second', offer, 0.1, 32, 'sleep 30')])).status, 202);
      const used = await fw.nextUpdate('second');
      assert.equal(used.state, 'TASK_DROPPED');
      assert.equal(used.reason, 'REASON_INVALID_OFFERS');
      // A made-up offer id.
      const fake = { ...offer, id: { value: 'no-such-offer' } };
      assert.equal((await fw.launch(fake, [commandTask('third', offer, 0.1, 32, 'sleep 30')])).status, 202);
      const made = await fw.nextUpdate('third');
      assert.deepEqual([made.state, made.reason], ['TASK_DROPPED', 'REASON_INVALID_OFFERS']);
      // A declined one.
      const rest = await fw.nextOffer();
      assert.equal((await fw.decline(rest, 0)).status, 202);
      assert.equal((await fw.launch(rest, [commandTask('fourth', rest, 0.1, 32, 'sleep 30')])).status, 202);
      const declined = await fw.nextUpdate('fourth');
      assert.deepEqual([declined.state, declined.reason], ['TASK_DROPPED', 'REASON_INVALID_OFFERS']);
      // A rescinded one: the agent restarts and re-registers, so what was offered of it is rescinded.
      const held = await fw.nextOffer();
      const agent = cluster.agents[0]!;
      await agent.daemon?.stop();
      await agent.start();
      const rescind = await fw.sub.take('RESCIND of the held offer', (e) =>
        e.type === 'RESCIND' && ((e.rescind as { offer_id: MesosId }).offer_id.value === held.id.value) ? e : undefined, 30_000);
      assert.ok(rescind);
      assert.equal((await fw.launch(held, [commandTask('fifth', held, 0.1, 32, 'sleep 30')])).status, 202);
      const rescinded = await fw.nextUpdate('fifth');
      assert.deepEqual([rescinded.state, rescinded.reason], ['TASK_DROPPED', 'REASON_INVALID_OFFERS']);
      // None of them reached the agent; the first one survived the agent's restart.
      const onAgent = await agentTasks(agent.url);
      assert.deepEqual(onAgent.map((t) => t.id).filter((id) => id !== 'first'), []);
      assert.equal(onAgent.find((t) => t.id === 'first')?.state, 'TASK_RUNNING');
      fw.assertAcksOk();
      await fw.call202('TEARDOWN');
    });

    it('keeps task ids per framework: two frameworks may use the same id, and one cannot touch the other’s', async () => {
      const a = await Framework.subscribe(cluster.masterUrl, frameworkInfo('ids-a'), opened);
      a.autoAck();
      const offerA = await a.nextOffer();
      assert.equal((await a.launch(offerA, [commandTask('same-id', offerA, 0.1, 32, 'sleep 30')], 60)).status, 202);
      await a.nextUpdate('same-id', ['TASK_RUNNING']);
      const b = await Framework.subscribe(cluster.masterUrl, frameworkInfo('ids-b'), opened);
      b.autoAck();
      // B may neither kill nor acknowledge A's task: KILL of a task it does not have is TASK_LOST to B.
      await b.call202('KILL', { kill: { task_id: { value: 'same-id' } } });
      assert.equal((await b.nextUpdate('same-id')).state, 'TASK_LOST');
      const offerB = await b.nextOffer();
      assert.equal((await b.launch(offerB, [commandTask('same-id', offerB, 0.1, 32, 'sleep 30')])).status, 202);
      const mine = await b.nextUpdate('same-id', undefined, 15_000);
      assert.ok(['TASK_STARTING', 'TASK_RUNNING'].includes(mine.state), `B's task with A's id: ${mine.state} ${mine.reason ?? ''} ${mine.message ?? ''}`);
      await a.call202('RECONCILE', { reconcile: { tasks: [{ task_id: { value: 'same-id' } }] } });
      assert.equal((await a.reconciled('same-id')).state, 'TASK_RUNNING', "A's task is untouched by B's");
      a.assertAcksOk();
      b.assertAcksOk();
      await a.call202('TEARDOWN');
      await b.call202('TEARDOWN');
    });

    it('answers malformed calls 400 naming the field', async () => {
      const fw = await Framework.subscribe(cluster.masterUrl, frameworkInfo('malformed'), opened);
      const url = `${cluster.masterUrl}${SCHEDULER_PATH}`;
      const stream = { 'Mesos-Stream-Id': fw.sub.streamId ?? '' };
      const badJson = await postJson(url, '{"type": "REVIVE", "framework_id": ', stream);
      assert.equal(badJson.status, 400, badJson.text);
      assertNamesField(await postJson(url, { type: 'FLY', framework_id: { value: fw.id } }, stream), 'type');
      assertNamesField(await postJson(url, { framework_id: { value: fw.id } }, stream), 'type');
      assertNamesField(await postJson(url, { type: 'REVIVE' }, stream), 'framework_id');
      assertNamesField(await postJson(url, { type: 'KILL', framework_id: { value: fw.id } }, stream), 'kill');
      assertNamesField(await fw.call('KILL', { kill: { task_id: { value: 7 } } }), 'kill.task_id.value');
      assertNamesField(await fw.call('DECLINE', { decline: { offer_ids: 'offer-1' } }), 'decline.offer_ids');
      assertNamesField(await fw.call('DECLINE', { decline: { offer_ids: [{ value: 'x' }], filters: { refuse_seconds: 'soon' } } }), 'decline.filters.refuse_seconds');
      assertNamesField(
        await fw.call('ACKNOWLEDGE', { acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid: 'not base64!' } }),
        'acknowledge.uuid',
      );
      assertNamesField(await fw.call('ACCEPT', { accept: { offer_ids: [{ value: 'x' }], operations: [{ type: 'LAUNCH', launch: { task_infos: [{ name: 3 }] } }] } }), 'accept.operations[0].launch.task_infos[0]');
      assertNamesField(await postJson(url, { type: 'SUBSCRIBE' }), 'subscribe');
      assertNamesField(await postJson(url, { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'root', name: 'x', failover_timeout: 'long' } } }), 'subscribe.framework_info.failover_timeout');
      // The stream id is required and must match.
      const noHeader = await postJson(url, { type: 'REVIVE', framework_id: { value: fw.id } });
      assert.equal(noHeader.status, 400, noHeader.text);
      assert.match(noHeader.text, /Mesos-Stream-Id/);
      const wrongHeader = await fw.call('REVIVE', {}, { 'Mesos-Stream-Id': 'not-the-stream' });
      assert.equal(wrongHeader.status, 400, wrongHeader.text);
      // Still subscribed and working after all that.
      await fw.call202('REVIVE');
      assert.equal(fw.sub.isEnded, false);
      await fw.call202('TEARDOWN');
    });
  });

  describe('framework failover', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'off', '--resources', 'cpus:1;mem:512'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('keeps tasks of a framework back within failover_timeout; kills them and refuses its id after it', async () => {
      const agent = cluster.agents[0]!;
      const info = frameworkInfo('failover', { failover_timeout: 5 });
      const first = await Framework.subscribe(cluster.masterUrl, info, opened);
      first.autoAck();
      const offer = await first.nextOffer();
      assert.equal((await first.launch(offer, [commandTask('keeper', offer, 0.1, 32, 'sleep 60')])).status, 202);
      await first.nextUpdate('keeper', ['TASK_RUNNING']);
      first.sub.close();

      const second = await Framework.subscribe(cluster.masterUrl, { ...info, id: { value: first.id } }, opened);
      assert.equal(second.id, first.id);
      assert.notEqual(second.sub.streamId, first.sub.streamId);
      await second.call202('RECONCILE', { reconcile: { tasks: [] } });
      assert.equal((await second.reconciled('keeper')).state, 'TASK_RUNNING');
      // The old stream id no longer works.
      const stale = await postJson(`${cluster.masterUrl}${SCHEDULER_PATH}`, { type: 'REVIVE', framework_id: { value: first.id } }, { 'Mesos-Stream-Id': first.sub.streamId ?? '' });
      assert.equal(stale.status, 400, stale.text);

      second.sub.close();
      const droppedAt = Date.now();
      // Still running a while into the timeout…
      await sleepMs(2500);
      assert.equal((await agentTask(agent.url, 'keeper'))?.state, 'TASK_RUNNING', 'killed before the failover timeout passed');
      // …and killed once it has passed.
      await waitFor('the task killed after the failover timeout', async () => {
        const t = await agentTask(agent.url, 'keeper');
        return t && t.state !== 'TASK_RUNNING' ? t : undefined;
      }, 20_000).then((t) => assert.equal(t.state, 'TASK_KILLED'));
      const killedAfter = Date.now() - droppedAt;
      assert.ok(killedAfter >= 5000, `killed ${killedAfter} ms after the framework left (failover_timeout 5 s)`);
      const late = await Subscription.open(`${cluster.masterUrl}${SCHEDULER_PATH}`, {
        type: 'SUBSCRIBE',
        framework_id: { value: first.id },
        subscribe: { framework_info: { ...info, id: { value: first.id } } },
      });
      opened.push(late);
      assert.equal(late.status, 403, late.errorText);
    });
  });

  describe('master failover (ZooKeeper, 3 masters)', function () {
    let cluster: HaCluster;
    before(async function () {
      const available = await ZooKeeperServer.available();
      if (!available.ok) {
        if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
        console.log(`      skipped: ${available.reason}`);
        this.skip();
      }
      cluster = await HaCluster.start({ masters: 3, agents: 1, agentArgs: ['--docker', 'off', '--resources', 'cpus:1;mem:512'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    /** SUBSCRIBE through `entry`, following 307s by hand and retrying 503s until a leader answers 200. */
    async function subscribeAnywhere(entries: () => string[], body: Json, redirects: string[]): Promise<{ sub: Subscription; url: string }> {
      return waitFor('a leading master to SUBSCRIBE at', async () => {
        for (const entry of entries()) {
          let url = `${entry}${SCHEDULER_PATH}`;
          for (let hop = 0; hop < 3; hop++) {
            const sub = await Subscription.open(url, body).catch(() => undefined);
            if (!sub) break;
            opened.push(sub);
            if (sub.status === 307) {
              const location = String(sub.headers.location ?? '');
              redirects.push(location);
              url = resolveLocation(location, url);
              continue;
            }
            if (sub.status === 200) return { sub, url: url.slice(0, -SCHEDULER_PATH.length) };
            break; // 503 while an election runs: try again shortly
          }
        }
        return undefined;
      }, 30_000, 300);
    }

    it('keeps the framework and its task across a leader crash', async () => {
      const leader = await cluster.waitForLeader();
      const follower = cluster.masters.find((m) => m !== leader && m.running)!;
      // Through a follower: 307 with Location //ip:port/api/v1/scheduler, followed by hand.
      const info = frameworkInfo('ha', { failover_timeout: 120 });
      const redirects: string[] = [];
      const { sub, url } = await subscribeAnywhere(() => [follower.url], { type: 'SUBSCRIBE', subscribe: { framework_info: info } }, redirects);
      assert.equal(redirects.length, 1, `one redirect: ${redirects.join(', ')}`);
      assert.equal(redirects[0], `//127.0.0.1:${leader.port}${SCHEDULER_PATH}`);
      assert.equal(url, leader.url);
      const fw = await Framework.fromSubscription(url, sub);
      fw.autoAck();
      const offer = await fw.nextOffer(20_000);
      assert.equal((await fw.launch(offer, [commandTask('survivor', offer, 0.1, 32, 'sleep 120')])).status, 202);
      await fw.nextUpdate('survivor', ['TASK_RUNNING']);

      await leader.daemon?.crash();
      await Promise.race([fw.sub.ended, sleepMs(10_000).then(() => assert.fail('the stream outlived its master'))]);
      const newLeader = await cluster.waitForLeader(30_000, leader);
      const again = await subscribeAnywhere(
        () => cluster.masters.filter((m) => m.running).map((m) => m.url),
        { type: 'SUBSCRIBE', framework_id: { value: fw.id }, subscribe: { framework_info: { ...info, id: { value: fw.id } } } },
        [],
      );
      assert.equal(again.url, newLeader.url);
      const back = await Framework.fromSubscription(again.url, again.sub);
      assert.equal(back.id, fw.id);
      back.autoAck();
      await back.call202('RECONCILE', { reconcile: { tasks: [{ task_id: { value: 'survivor' }, agent_id: offer.agent_id }] } });
      const reconciled = await back.reconciled('survivor', 30_000);
      assert.equal(reconciled.state, 'TASK_RUNNING', `${reconciled.state} ${reconciled.message ?? ''}`);
      // The agent comes back to the new leader and what is left of it is offered again.
      const fresh = await back.nextOffer(30_000);
      assert.equal(fresh.agent_id.value, offer.agent_id.value);
      assert.ok(scalarOf(fresh, 'cpus') <= 0.9 + 1e-9, `the running task's 0.1 cpu is not offered again: ${scalarOf(fresh, 'cpus')}`);
      const onAgent = await cluster.agentTasks();
      assert.deepEqual(onAgent.get('survivor'), ['TASK_RUNNING']);
      back.assertAcksOk();
      await back.call202('TEARDOWN');
    });
  });

  describe('a slow subscriber', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'off', '--resources', 'cpus:2;mem:1024'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('does not hold up another framework’s offers and updates', async () => {
      const fast = await Framework.subscribe(cluster.masterUrl, frameworkInfo('fast'), opened);
      fast.autoAck();
      const offer = await fast.nextOffer();
      const slow = await Framework.subscribe(cluster.masterUrl, frameworkInfo('slow'), opened);
      await slow.call202('SUPPRESS');
      slow.sub.pause();
      // Stall the slow one's stream: each RECONCILE of unknown tasks is 5,000 TASK_LOST events
      // (~1.5 MB); three of them fill the socket and leave megabytes queued in the master, below its
      // 8 MB cut-off, so the slow subscriber is stalled but still connected.
      const ghosts = Array.from({ length: 5000 }, (_, i) => ({ task_id: { value: `ghost-${String(i).padStart(5, '0')}` } }));
      for (let i = 0; i < 3; i++) await slow.call202('RECONCILE', { reconcile: { tasks: ghosts } });
      const readWhileStalled = slow.sub.bytesReceived;
      assert.ok(readWhileStalled < 1_000_000, `the paused subscriber read ${readWhileStalled} bytes`);

      // The other framework's life goes on at its usual pace.
      const t0 = Date.now();
      assert.equal((await fast.launch(offer, [commandTask('quick', offer, 0.5, 64, 'sleep 30')], 0)).status, 202);
      await fast.nextUpdate('quick', ['TASK_RUNNING'], 10_000);
      const runningMs = Date.now() - t0;
      const more = await fast.nextOffer(5000);
      assert.ok(scalarOf(more, 'cpus') <= 1.5 + 1e-9);
      await fast.call202('DECLINE', { decline: { offer_ids: [more.id], filters: { refuse_seconds: 60 } } });
      await fast.call202('KILL', { kill: { task_id: { value: 'quick' } } });
      await fast.nextUpdate('quick', ['TASK_KILLED'], 10_000);
      const totalMs = Date.now() - t0;
      assert.ok(runningMs < 5000, `launch → TASK_RUNNING took ${runningMs} ms while the slow subscriber stalled`);
      assert.ok(totalMs < 10_000, `the fast framework's round took ${totalMs} ms`);
      fast.assertAcksOk();
      // All that while the slow one was stalled and still subscribed.
      assert.equal(slow.sub.isEnded, false);
      await slow.call202('SUPPRESS');

      // More for it: the master does not buffer a stalled stream without bound but cuts it (the
      // framework, with no failover timeout, is then gone: its calls get 403).
      let cut = false;
      for (let i = 0; i < 30 && !cut; i++) {
        const answer = await slow.call('RECONCILE', { reconcile: { tasks: ghosts } });
        if (answer.status === 403) cut = true;
        else assert.equal(answer.status, 202, answer.text);
      }
      assert.ok(cut, 'the master kept queueing ~45 MB of events for a subscriber that does not read');
      slow.sub.resume();
      await Promise.race([slow.sub.ended, sleepMs(15_000).then(() => assert.fail(`the stalled stream did not end (${slow.sub.bytesReceived} bytes read)`))]);
      // The fast one did not notice.
      await fast.call202('REVIVE');
      assert.equal(fast.sub.isEnded, false);
      await fast.call202('TEARDOWN');
    });
  });
});
