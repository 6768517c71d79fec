// parseCall: an untrusted request body → a typed Call, or a ValidationError naming the field in
// dotted form with array indices in brackets (`accept.offer_ids[0].value`), as Mesos's messages do.
import {
  ValidationError,
  compileValidator,
  type Validator,
  CALL_TYPES,
  UNSUPPORTED_CALL_TYPES,
  type Call,
  type CallType,
  type MesosFrameworkInfo,
} from '../../common/index.js';
import {
  acceptCallSchema,
  acknowledgeCallSchema,
  declineCallSchema,
  killCallSchema,
  reconcileCallSchema,
  reviveCallSchema,
  subscribeCallSchema,
  suppressCallSchema,
  teardownCallSchema,
} from './call-schema.js';
import { uuidFromMesos } from './convert.js';
import { bracketPath } from './field-path.js';

const validators: { [K in CallType]: Validator<Extract<Call, { type: K }>> } = {
  SUBSCRIBE: compileValidator(subscribeCallSchema),
  TEARDOWN: compileValidator(teardownCallSchema),
  ACCEPT: compileValidator(acceptCallSchema),
  DECLINE: compileValidator(declineCallSchema),
  REVIVE: compileValidator(reviveCallSchema),
  SUPPRESS: compileValidator(suppressCallSchema),
  KILL: compileValidator(killCallSchema),
  ACKNOWLEDGE: compileValidator(acknowledgeCallSchema),
  RECONCILE: compileValidator(reconcileCallSchema),
};

/** The call's sub-message for each type (ACCEPT needs `accept`); named in the "is required" message. */
const SUB_MESSAGE: { [K in CallType]: string | undefined } = {
  SUBSCRIBE: 'subscribe',
  TEARDOWN: undefined,
  ACCEPT: 'accept',
  DECLINE: 'decline',
  REVIVE: undefined,
  SUPPRESS: undefined,
  KILL: 'kill',
  ACKNOWLEDGE: 'acknowledge',
  RECONCILE: 'reconcile',
};

export function parseCall(body: unknown): Call {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError(undefined, 'a call must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  const type = record.type;
  if (type === undefined) throw new ValidationError('type', 'is required');
  if (typeof type !== 'string' || !isCallType(type)) {
    const supported = CALL_TYPES.join(', ');
    if (typeof type === 'string' && UNSUPPORTED_CALL_TYPES.includes(type)) {
      throw new ValidationError('type', `call type ${type} is not supported by Tessera (supported: ${supported})`);
    }
    throw new ValidationError('type', `must be one of ${supported}`);
  }
  const sub = SUB_MESSAGE[type];
  if (sub !== undefined && record[sub] === undefined) {
    throw new ValidationError(sub, `is required for a ${type} call`);
  }
  if (type === 'ACCEPT') checkOperationTypes(record.accept);
  const call = withBracketPaths(() => validators[type](body));
  if (call.type === 'SUBSCRIBE') checkSubscribe(call.framework_id?.value, call.subscribe.framework_info);
  if (call.type === 'ACKNOWLEDGE') uuidFromMesos(call.acknowledge.uuid, 'acknowledge.uuid');
  return call;
}

function isCallType(type: string): type is CallType {
  return (CALL_TYPES as readonly string[]).includes(type);
}

/** Only LAUNCH is supported: say so, rather than a schema error about `const`. */
function checkOperationTypes(accept: unknown): void {
  if (accept === null || typeof accept !== 'object') return;
  const operations = (accept as { operations?: unknown }).operations;
  if (!Array.isArray(operations)) return;
  operations.forEach((op: unknown, i) => {
    const opType = op !== null && typeof op === 'object' ? (op as { type?: unknown }).type : undefined;
    if (typeof opType === 'string' && opType !== 'LAUNCH') {
      throw new ValidationError(`accept.operations[${i}].type`, `operation ${opType} is not supported (only LAUNCH)`);
    }
  });
}

function checkSubscribe(callFrameworkId: string | undefined, info: MesosFrameworkInfo): void {
  if (callFrameworkId !== undefined && callFrameworkId !== info.id?.value) {
    throw new ValidationError('framework_id', "must equal 'subscribe.framework_info.id'");
  }
  const multiRole = hasCapability(info, 'MULTI_ROLE');
  if (multiRole && info.role !== undefined) {
    throw new ValidationError('subscribe.framework_info.role', "must not be set with the MULTI_ROLE capability; use 'roles'");
  }
  if (!multiRole && info.roles !== undefined) {
    throw new ValidationError('subscribe.framework_info.roles', 'needs the MULTI_ROLE capability');
  }
  if (info.roles !== undefined && new Set(info.roles).size !== info.roles.length) {
    throw new ValidationError('subscribe.framework_info.roles', 'must not repeat a role');
  }
}

export function hasCapability(info: MesosFrameworkInfo, capability: string): boolean {
  return (info.capabilities ?? []).some((c) => c.type === capability);
}

/** The roles a framework subscribes with: `roles` (MULTI_ROLE), else `role`, else '*'. */
export function frameworkRoles(info: MesosFrameworkInfo): string[] {
  if (hasCapability(info, 'MULTI_ROLE')) return [...(info.roles ?? [])];
  return [info.role ?? '*'];
}

/** Runs a common validator and rewrites its `a.b.0.c` field paths as `a.b[0].c`. */
function withBracketPaths<T>(validate: () => T): T {
  try {
    return validate();
  } catch (err) {
    if (!(err instanceof ValidationError) || err.field === undefined) throw err;
    const field = bracketPath(err.field);
    const prefix = `${err.field}: `;
    const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    throw new ValidationError(field, message);
  }
}
