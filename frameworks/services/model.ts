// The records the keeper keeps (and the glue persists under apps/, tasks/, deployments/) and the
// events it emits (Marathon's event bus names, as /v2/events streams them).
import type { TaskState } from '../../common/index.js';
import type { AppDefinition } from './app-definition.js';

export interface AppRecord {
  definition: AppDefinition;
  /** ISO time of the last change of any kind. */
  version: string;
  /** ISO time of the last change that needs new tasks; every task carries the one it was launched with. */
  configVersion: string;
  lastScalingAt: string;
}

export interface HealthResult {
  /** Undefined until the first result outside the grace period. */
  alive?: boolean;
  consecutiveFailures: number;
  firstSuccess?: number;
  lastSuccess?: number;
  lastFailure?: number;
  lastFailureCause?: string;
}

export type KillReason = 'scale' | 'upgrade' | 'restart' | 'unhealthy' | 'delete' | 'orphan';

export interface TaskRecord {
  taskId: string;
  appId: string;
  /** The app's configVersion this task was launched with. */
  version: string;
  agentId: string;
  host: string;
  /** Where to probe the task (the agent's IP when the offer says it, else the hostname). */
  probeHost: string;
  attributes: Record<string, string>;
  ports: number[];
  state: TaskState;
  stagedAt: number;
  startedAt?: number;
  killing?: { at: number; reason: KillReason };
  /** One per health check of the app, by index. */
  health: HealthResult[];
}

export const DEPLOYMENT_ACTIONS = ['StartApplication', 'ScaleApplication', 'RestartApplication', 'StopApplication'] as const;
export type DeploymentAction = (typeof DEPLOYMENT_ACTIONS)[number];

export interface Deployment {
  id: string;
  appId: string;
  action: DeploymentAction;
  /** The app version it deploys. */
  version: string;
  startedAt: number;
}

/** One event on the bus: Marathon's `eventType` names plus their fields. */
export interface ServiceEvent {
  eventType: string;
  timestamp: string;
  [field: string]: unknown;
}
