// POST /api/v1/scheduler: the Mesos v1 scheduler HTTP API. Parses, authenticates and checks the
// stream id; every rule about frameworks and offers lives behind SchedulerApi.
import {
  TesseraError,
  ValidationError,
  assertNever,
  errorBody,
  errorMessage,
  readJsonBody,
  statusForCode,
  type Logger,
  type FrameworkCall,
  type SubscribeCall,
} from '../../common/index.js';
import type Koa from 'koa';
import { ForbiddenError, NotAcceptableError, UnsupportedMediaTypeError } from './errors.js';
import { EventStream } from './event-stream.js';
import { parseCall } from './parse-call.js';
import type { SchedulerApi } from './scheduler-api.js';

export const SCHEDULER_PATH = '/api/v1/scheduler';
export const STREAM_ID_HEADER = 'Mesos-Stream-Id';

export interface SchedulerRouteOptions {
  logger: Logger;
  heartbeatIntervalMs?: number;
  /** Per-subscriber bytes queued for the socket before the stream is cut (default 8 MB). */
  maxBufferedBytes?: number;
  /** The caller's principal from the Authorization header; throws TesseraError 'UNAUTHORIZED' (401). */
  authenticate?: (authorization: string | undefined) => string | undefined;
}

export function schedulerRoute(api: SchedulerApi, options: SchedulerRouteOptions): Koa.Middleware {
  const { logger } = options;
  return async (ctx, next) => {
    if (ctx.path !== SCHEDULER_PATH) return next();
    try {
      if (ctx.method !== 'POST') {
        ctx.set('Allow', 'POST');
        ctx.status = 405;
        ctx.body = errorBody('METHOD_NOT_ALLOWED', `${SCHEDULER_PATH} expects POST`);
        return;
      }
      const principal = options.authenticate?.(ctx.get('Authorization') || undefined);
      checkContentType(ctx.get('Content-Type'));
      const call = parseCall(await readJsonBody(ctx));
      if (call.type === 'SUBSCRIBE') subscribe(ctx, api, call, principal, options);
      else frameworkCall(ctx, api, call, principal);
    } catch (err) {
      answerError(ctx, err, logger);
    }
  };
}

function checkContentType(header: string): void {
  const mediaType = header.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json') return;
  if (mediaType === 'application/x-protobuf') {
    throw new UnsupportedMediaTypeError('protobuf (application/x-protobuf) is not supported; send the call as application/json');
  }
  throw new UnsupportedMediaTypeError(
    `Content-Type must be application/json (got ${mediaType === '' ? 'none' : `'${mediaType}'`}); protobuf is not supported`,
  );
}

function subscribe(
  ctx: Koa.Context,
  api: SchedulerApi,
  call: SubscribeCall,
  principal: string | undefined,
  options: SchedulerRouteOptions,
): void {
  if (ctx.get(STREAM_ID_HEADER) !== '') {
    throw new ValidationError(STREAM_ID_HEADER, 'a SUBSCRIBE call must not carry the Mesos-Stream-Id header');
  }
  if (ctx.get('Accept') !== '' && !ctx.accepts('application/json')) {
    throw new NotAcceptableError('the event stream is application/json only (protobuf is not supported)');
  }
  const stream = new EventStream(ctx.res, {
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    ...(options.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: options.maxBufferedBytes }),
    logger: options.logger,
  });
  let streamId: string;
  try {
    ({ streamId } = api.subscribe(call, stream, principal));
  } catch (err) {
    // Nothing of the stream went out yet: answer the error as an ordinary JSON response.
    stream.discard();
    throw err;
  }
  // The response is ours from here on; status 200 also keeps outer middleware from seeing a 404.
  ctx.status = 200;
  ctx.respond = false;
  stream.open(streamId);
}

function frameworkCall(ctx: Koa.Context, api: SchedulerApi, call: FrameworkCall, principal: string | undefined): void {
  const frameworkId = call.framework_id.value;
  const expected = api.streamIdOf(frameworkId);
  if (expected === undefined) throw new ForbiddenError(`framework ${frameworkId} is not subscribed`);
  if (principal !== undefined && api.principalOf !== undefined) {
    const owner = api.principalOf(frameworkId);
    if (owner !== undefined && owner !== principal) {
      throw new ForbiddenError(`principal '${principal}' may not make calls for framework ${frameworkId}`);
    }
  }
  const streamId = ctx.get(STREAM_ID_HEADER);
  if (streamId === '') throw new ValidationError(STREAM_ID_HEADER, 'header is required on every call but SUBSCRIBE');
  if (streamId !== expected) {
    throw new ValidationError(STREAM_ID_HEADER, `header '${streamId}' does not match the framework's subscription stream`);
  }
  dispatch(api, call, frameworkId);
  ctx.status = 202;
  // '' rather than no body: koa would otherwise write the status text.
  ctx.body = '';
}

function dispatch(api: SchedulerApi, call: FrameworkCall, frameworkId: string): void {
  switch (call.type) {
    case 'TEARDOWN':
      return api.teardown(frameworkId);
    case 'ACCEPT':
      return api.accept(frameworkId, call.accept);
    case 'DECLINE':
      return api.decline(frameworkId, call.decline);
    case 'REVIVE':
      return api.revive(frameworkId, nonEmpty(call.revive?.roles));
    case 'SUPPRESS':
      return api.suppress(frameworkId, nonEmpty(call.suppress?.roles));
    case 'KILL':
      return api.kill(frameworkId, call.kill);
    case 'ACKNOWLEDGE':
      return api.acknowledge(frameworkId, call.acknowledge);
    case 'RECONCILE':
      return api.reconcile(frameworkId, call.reconcile);
    default:
      return assertNever(call, 'call type');
  }
}

/** No roles listed means every role of the framework (Mesos). */
function nonEmpty(roles: string[] | undefined): string[] | undefined {
  return roles === undefined || roles.length === 0 ? undefined : roles;
}

function answerError(ctx: Koa.Context, err: unknown, logger: Logger): void {
  if (ctx.res.headersSent) {
    // The stream had started; nothing sensible can be written any more.
    logger.error({ err }, 'scheduler call failed after the stream started');
    ctx.res.destroy();
    return;
  }
  ctx.respond = true;
  if (err instanceof TesseraError) {
    ctx.status = err.code === 'NOT_ACCEPTABLE' ? 406 : statusForCode(err.code);
    if (err.code === 'UNAUTHORIZED') ctx.set('WWW-Authenticate', 'Basic realm="tessera"');
    ctx.body = errorBody(err.code, err.message, err instanceof ValidationError ? err.field : undefined);
    if (ctx.status >= 500) logger.error({ err, path: ctx.path }, 'scheduler call failed');
  } else {
    logger.error({ err, path: ctx.path }, 'scheduler call failed');
    ctx.status = 500;
    ctx.body = errorBody('INTERNAL', errorMessage(err));
  }
}
