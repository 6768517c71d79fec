// The public face of frameworks/scheduler-client: a Mesos v1 HTTP scheduler client that any
// framework process (services, jobs, third-party) uses to talk to the leading master.
export { SchedulerClient } from './scheduler-client.js';
export type { SchedulerClientOptions, SchedulerEvents, SchedulerClientState } from './scheduler-client.js';
export { SchedulerClientError } from './errors.js';
export type { SchedulerClientErrorCode } from './errors.js';
