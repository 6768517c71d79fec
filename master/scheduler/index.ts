// The Mesos v1 scheduler HTTP API protocol layer: parsing, conversion, event streams and the route
// (the JSON types, event builders and RecordIO are common's, common/mesos/). The master implements
// SchedulerApi and mounts schedulerRoute.
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
