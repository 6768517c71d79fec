// The public face of common/: wire types, schemas, validation, task states, ids, HTTP helpers, logging.
export * from './task-state.js';
export * from './assert-never.js';
export * from './clock.js';
export * from './types.js';
export * from './resources.js';
export * from './protocol.js';
export * from './schemas.js';
export * from './errors.js';
export * from './validation.js';
export * from './http.js';
export * from './logging.js';
export * from './atomic-write.js';
export * from './wait-for.js';
export * from './backoff.js';
export * from './hostname.js';
export * from './zk/index.js';
export * from './mesos/index.js';
