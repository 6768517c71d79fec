// The public face of frameworks/services: the Marathon-shaped services framework.
export { ServicesFramework } from './service.js';
export type { ServicesFrameworkOptions, SchedulerPort } from './service.js';
export { parseAppDefinition, mergeAppUpdate, normalizeAppId, appInputOf, APP_DEFAULTS } from './app-definition.js';
export type { AppDefinition, AppInput, HealthCheck, Constraint } from './app-definition.js';
export { Keeper } from './keeper.js';
export type { KeeperOptions, OfferDecision, TickResult, KillOrder, DeploymentResult, StoreChange } from './keeper.js';
export type { AppRecord, TaskRecord, Deployment, ServiceEvent } from './model.js';
export { AppLockedError, NotLeaderError } from './errors.js';
