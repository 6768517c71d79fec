import assert from 'node:assert/strict';
import { ValidationError } from '../../common/index.js';
import { frameworkRoles, parseCall } from './parse-call.js';

const FW = { value: 'fw-1' };
const UUID_B64 = Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64');

const task = {
  name: 'web',
  task_id: { value: 't1' },
  agent_id: { value: 'a1' },
  resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }],
  command: { value: 'echo hi' },
};

const good: Record<string, unknown> = {
  SUBSCRIBE: { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'root', name: 'fw' } } },
  TEARDOWN: { type: 'TEARDOWN', framework_id: FW },
  ACCEPT: {
    type: 'ACCEPT',
    framework_id: FW,
    accept: { offer_ids: [{ value: 'o1' }], operations: [{ type: 'LAUNCH', launch: { task_infos: [task] } }], filters: { refuse_seconds: 10 } },
  },
  DECLINE: { type: 'DECLINE', framework_id: FW, decline: { offer_ids: [{ value: 'o1' }], filters: { refuse_seconds: 60 } } },
  REVIVE: { type: 'REVIVE', framework_id: FW },
  SUPPRESS: { type: 'SUPPRESS', framework_id: FW, suppress: { roles: ['web'] } },
  KILL: { type: 'KILL', framework_id: FW, kill: { task_id: { value: 't1' }, agent_id: { value: 'a1' } } },
  ACKNOWLEDGE: { type: 'ACKNOWLEDGE', framework_id: FW, acknowledge: { agent_id: { value: 'a1' }, task_id: { value: 't1' }, uuid: UUID_B64 } },
  RECONCILE: { type: 'RECONCILE', framework_id: FW, reconcile: { tasks: [{ task_id: { value: 't1' } }] } },
};

function failure(body: unknown): ValidationError {
  try {
    parseCall(body);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err;
  }
  assert.fail(`expected a ValidationError for ${JSON.stringify(body)}`);
}

const withPath = (base: unknown, mutate: (c: Record<string, never>) => void): unknown => {
  const copy = structuredClone(base) as Record<string, never>;
  mutate(copy);
  return copy;
};

describe('parseCall', () => {
  for (const [type, body] of Object.entries(good)) {
    it(`accepts a valid ${type} call`, () => {
      assert.equal(parseCall(body).type, type);
    });
  }

  it('ignores unknown fields, as Mesos does', () => {
    const call = parseCall({ ...(good.SUBSCRIBE as object), subscribe: { framework_info: { user: '', name: 'x', shiny: 1 }, force: true } });
    assert.equal(call.type, 'SUBSCRIBE');
  });

  it('accepts implicit reconciliation (no tasks) and REVIVE/SUPPRESS without roles', () => {
    assert.equal(parseCall({ type: 'RECONCILE', framework_id: FW, reconcile: {} }).type, 'RECONCILE');
    assert.equal(parseCall({ type: 'RECONCILE', framework_id: FW, reconcile: { tasks: [] } }).type, 'RECONCILE');
    assert.equal(parseCall({ type: 'SUPPRESS', framework_id: FW }).type, 'SUPPRESS');
  });

  it('refuses bodies that are not objects and unknown or missing types', () => {
    assert.equal(failure([]).field, undefined);
    assert.equal(failure({}).field, 'type');
    const unknown = failure({ type: 'DANCE' });
    assert.equal(unknown.field, 'type');
    assert.match(unknown.message, /must be one of SUBSCRIBE, TEARDOWN, ACCEPT/);
    const unsupported = failure({ type: 'SHUTDOWN', framework_id: FW });
    assert.equal(unsupported.field, 'type');
    assert.match(unsupported.message, /SHUTDOWN is not supported/);
    assert.equal(failure({ type: 3 }).field, 'type');
  });

  it('requires the sub-message matching the type', () => {
    assert.equal(failure({ type: 'ACCEPT', framework_id: FW, decline: { offer_ids: [] } }).field, 'accept');
    assert.equal(failure({ type: 'DECLINE', framework_id: FW }).field, 'decline');
    assert.equal(failure({ type: 'KILL', framework_id: FW }).field, 'kill');
    assert.equal(failure({ type: 'ACKNOWLEDGE', framework_id: FW }).field, 'acknowledge');
    assert.equal(failure({ type: 'RECONCILE', framework_id: FW }).field, 'reconcile');
    assert.equal(failure({ type: 'SUBSCRIBE' }).field, 'subscribe');
  });

  it('requires framework_id on every call but SUBSCRIBE', () => {
    for (const type of ['TEARDOWN', 'ACCEPT', 'DECLINE', 'REVIVE', 'SUPPRESS', 'KILL', 'ACKNOWLEDGE', 'RECONCILE']) {
      assert.equal(failure(withPath(good[type], (c) => delete c.framework_id)).field, 'framework_id', type);
    }
    assert.equal(failure({ type: 'REVIVE', framework_id: { value: '' } }).field, 'framework_id.value');
  });

  it('names wrong fields in dotted form with indices in brackets', () => {
    const accept = (patch: Record<string, unknown>): unknown => ({ type: 'ACCEPT', framework_id: FW, accept: { offer_ids: [{ value: 'o1' }], ...patch } });
    const launch = (t: unknown): unknown => accept({ operations: [{ type: 'LAUNCH', launch: { task_infos: [t] } }] });
    assert.equal(failure(accept({ offer_ids: [{}] })).field, 'accept.offer_ids[0].value');
    assert.equal(failure(accept({ offer_ids: [{ value: 'o' }, { value: 7 }] })).field, 'accept.offer_ids[1].value');
    const badTask = { ...task, resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 'one' } }] };
    assert.equal(failure(launch(badTask)).field, 'accept.operations[0].launch.task_infos[0].resources[0].scalar.value');
    assert.equal(failure(launch({ ...task, name: undefined })).field, 'accept.operations[0].launch.task_infos[0].name');
    assert.equal(failure(launch({ ...task, task_id: { value: '' } })).field, 'accept.operations[0].launch.task_infos[0].task_id.value');
    assert.equal(failure({ type: 'DECLINE', framework_id: FW, decline: { offer_ids: [], filters: { refuse_seconds: 'x' } } }).field, 'decline.filters.refuse_seconds');
    assert.equal(failure({ type: 'KILL', framework_id: FW, kill: { agent_id: { value: 'a' } } }).field, 'kill.task_id');
    assert.equal(failure({ type: 'RECONCILE', framework_id: FW, reconcile: { tasks: [{ agent_id: { value: 'a' } }] } }).field, 'reconcile.tasks[0].task_id');
    assert.equal(failure({ type: 'SUBSCRIBE', subscribe: { framework_info: { name: 'x' } } }).field, 'subscribe.framework_info.user');
    assert.equal(failure({ type: 'SUPPRESS', framework_id: FW, suppress: { roles: [1] } }).field, 'suppress.roles[0]');
    const message = failure({ type: 'DECLINE', framework_id: FW, decline: {} }).message;
    assert.equal(message, 'decline.offer_ids: is required');
  });

  it('refuses operations other than LAUNCH by name', () => {
    const err = failure({ type: 'ACCEPT', framework_id: FW, accept: { offer_ids: [], operations: [{ type: 'RESERVE', reserve: {} }] } });
    assert.equal(err.field, 'accept.operations[0].type');
    assert.match(err.message, /RESERVE is not supported/);
  });

  it('checks the acknowledgement uuid is 16 bytes of base64', () => {
    const bad = (uuid: string): ValidationError =>
      failure({ type: 'ACKNOWLEDGE', framework_id: FW, acknowledge: { agent_id: { value: 'a' }, task_id: { value: 't' }, uuid } });
    assert.equal(bad('not base64!').field, 'acknowledge.uuid');
    assert.equal(bad(Buffer.from('short').toString('base64')).field, 'acknowledge.uuid');
  });

  it('checks SUBSCRIBE framework ids and roles agree', () => {
    const sub = (info: object, extra: object = {}): unknown => ({ type: 'SUBSCRIBE', ...extra, subscribe: { framework_info: { user: 'u', name: 'n', ...info } } });
    assert.equal(failure(sub({ id: { value: 'a' } }, { framework_id: { value: 'b' } })).field, 'framework_id');
    assert.equal(parseCall(sub({ id: { value: 'a' } }, { framework_id: { value: 'a' } })).type, 'SUBSCRIBE');
    assert.equal(failure(sub({ roles: ['a'] })).field, 'subscribe.framework_info.roles');
    assert.equal(failure(sub({ role: 'a', capabilities: [{ type: 'MULTI_ROLE' }] })).field, 'subscribe.framework_info.role');
    assert.equal(failure(sub({ roles: ['a', 'a'], capabilities: [{ type: 'MULTI_ROLE' }] })).field, 'subscribe.framework_info.roles');
  });

  it('derives the framework roles', () => {
    assert.deepEqual(frameworkRoles({ user: 'u', name: 'n' }), ['*']);
    assert.deepEqual(frameworkRoles({ user: 'u', name: 'n', role: 'web' }), ['web']);
    assert.deepEqual(frameworkRoles({ user: 'u', name: 'n', roles: ['a', 'b'], capabilities: [{ type: 'MULTI_ROLE' }] }), ['a', 'b']);
  });
  describe('health_check', () => {
    const T = 'accept.operations[0].launch.task_infos[0].health_check';
    const withCheck = (check: unknown): unknown =>
      withPath(good.ACCEPT, (c) => {
        const accept = c.accept as unknown as { operations: Array<{ launch: { task_infos: Array<Record<string, unknown>> } }> };
        accept.operations[0]!.launch.task_infos[0]!.health_check = check;
      });

    it('accepts COMMAND, HTTP and TCP checks with fractional seconds', () => {
      for (const check of [
        { type: 'COMMAND', command: { value: 'true' }, delay_seconds: 0, interval_seconds: 0.5, timeout_seconds: 1.5, consecutive_failures: 3, grace_period_seconds: 0 },
        { type: 'HTTP', http: { port: 8080, path: '/health' } },
        { type: 'TCP', tcp: { port: 8080 } },
      ]) {
        assert.equal(parseCall(withCheck(check)).type, 'ACCEPT');
      }
    });

    it('names the field of a negative number, an unknown type, a COMMAND without command.value', () => {
      assert.equal(failure(withCheck({ type: 'COMMAND', command: { value: 'true' }, interval_seconds: -1 })).field, `${T}.interval_seconds`);
      assert.equal(failure(withCheck({ type: 'COMMAND', command: { value: 'true' }, consecutive_failures: 1.5 })).field, `${T}.consecutive_failures`);
      assert.equal(failure(withCheck({ type: 'GRPC' })).field, `${T}.type`);
      assert.equal(failure(withCheck({ type: 'COMMAND', command: {} })).field, `${T}.command.value`);
      assert.equal(failure(withCheck({ type: 'COMMAND' })).field, `${T}.command`);
      assert.equal(failure(withCheck({ type: 'TCP' })).field, `${T}.tcp`);
    });
  });
});
