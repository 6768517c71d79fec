// The public face of frameworks/jobs: a Chronos-shaped jobs framework (ISO 8601 and cron schedules,
// dependencies, retries, webhooks) speaking only the scheduler API, highly available through ZooKeeper.
export { JobsFramework } from './jobs-framework.js';
export type { JobsFrameworkOptions } from './jobs-framework.js';
export { JobsEngine } from './jobs-engine.js';
export type { JobsEngineOptions, KeyValueStore, FinishedRun, JobEntry, LaunchableRun } from './jobs-engine.js';
export { JobsScheduler, taskInfo } from './jobs-scheduler.js';
export type { SchedulerPort, JobsSchedulerOptions } from './jobs-scheduler.js';
export { createJobsApp, jobView, jobStats } from './http-api.js';
export type { JobsApiHost, JobView, JobStatView } from './http-api.js';
export { validateJob, JOB_DEFAULTS } from './job-definition.js';
export type { JobBody, JobDefinition, JobContainer, JobEnvironmentVariable, JobKind } from './job-definition.js';
export type { JobStatus, ActiveRun, RunRecord, RunOutcome, RunTrigger, RunPhase } from './job-status.js';
export { parseSchedule, nextOccurrence } from './schedule.js';
export type { Schedule } from './schedule.js';
export { parseCron, cronNextAfter } from './cron.js';
export { parseDuration as parseIsoDuration, parseRepeatingInterval, firstAtOrAfter } from './iso8601.js';
export { checkParents, findCycle } from './dependency-graph.js';
export { decideRetry } from './retry-policy.js';
export { WebhookNotifier } from './webhooks.js';
export type { WebhookNotifierOptions, WebhookFetch } from './webhooks.js';
export { webhookPayload, webhookTarget, deliveryId, DELIVERY_HEADER } from './webhook-payload.js';
export type { WebhookPayload, WebhookEvent } from './webhook-payload.js';
export { WebhookOutbox } from './webhook-outbox.js';
export type { OutboxEntry, NotificationFailure } from './webhook-outbox.js';
export { NotLeadingError } from './errors.js';
