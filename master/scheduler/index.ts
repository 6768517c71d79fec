// The Mesos v1 scheduler HTTP API protocol layer: types, parsing, conversion, RecordIO, event
// streams and the route. The master implements SchedulerApi and mounts schedulerRoute.
export * from './mesos-types.js';
export { parseCall, frameworkRoles, hasCapability } from './parse-call.js';
export {
  taskInfoFromMesos,
  statusToMesos,
  uuidToMesos,
  uuidFromMesos,
  offerToMesos,
  masterInfoToMesos,
  gracePeriodSeconds,
  refuseSeconds,
  DEFAULT_REFUSE_SECONDS,
  type OfferView,
} from './convert.js';
export * from './events.js';
export { encodeRecord, RecordIoDecoder } from './recordio.js';
export {
  EventStream,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  type EventSink,
  type EventStreamOptions,
} from './event-stream.js';
export type { SchedulerApi } from './scheduler-api.js';
export { schedulerRoute, SCHEDULER_PATH, STREAM_ID_HEADER, type SchedulerRouteOptions } from './scheduler-route.js';
export * from './errors.js';
export { subscribeRaw, postCall, type RawSubscription } from './test-client.js';
