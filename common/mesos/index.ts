// The Mesos v1 scheduler API as JSON, shared by the master (which serves it) and frameworks (which
// call it): types, event builders, RecordIO framing.
export * from './mesos-types.js';
export * from './events.js';
export { encodeRecord, RecordIoDecoder } from './recordio.js';
