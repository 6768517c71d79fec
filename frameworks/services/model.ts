// The records the keeper keeps (and the glue persists under apps/, tasks/, deployments/) and the
// events it emits (Marathon's event bus names, as /v2/events streams them).
import { assertNever, type TaskState } from '../../common/index.js';
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

/** Why the framework killed a task; 'user' is a kill through the API (DELETE …/tasks), which is replaced unless scaled. */
export type KillReason = 'scale' | 'upgrade' | 'restart' | 'unhealthy' | 'delete' | 'orphan' | 'user';

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
  /** What it does as a whole (the first step's action). */
  action: DeploymentAction;
  /** The app version it deploys. */
  version: string;
  startedAt: number;
  /** Marathon's plan: steps run one after the other, each a list of actions on the app. */
  steps: DeploymentAction[][];
  /** Index of the step under way (0-based; Marathon shows it 1-based). */
  currentStep: number;
}

/**
 * The steps of a deployment of one app, in Marathon's vocabulary. A new app is started (StartApplication:
 * done once its first task runs) and then scaled to its instances (ScaleApplication: done once they are
 * all healthy and of its version). A restart or config change replaces every old task (RestartApplication:
 * done once none is left) and then scales (Marathon folds both into one RestartApplication step; two show
 * how far a rolling upgrade got). A scale is one ScaleApplication step, a removal one StopApplication.
 */
export function deploymentSteps(action: DeploymentAction): DeploymentAction[][] {
  switch (action) {
    case 'StartApplication':
      return [['StartApplication'], ['ScaleApplication']];
    case 'RestartApplication':
      return [['RestartApplication'], ['ScaleApplication']];
    case 'ScaleApplication':
      return [['ScaleApplication']];
    case 'StopApplication':
      return [['StopApplication']];
    default:
      return assertNever(action, 'deployment action');
  }
}

/** One event on the bus: Marathon's `eventType` names plus their fields. */
export interface ServiceEvent {
  eventType: string;
  timestamp: string;
  [field: string]: unknown;
}
