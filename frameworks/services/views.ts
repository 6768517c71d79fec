// What the API returns: Marathon's shapes for apps, tasks and deployments, built from keeper records.
import { appInputOf } from './app-definition.js';
import type { Keeper } from './keeper.js';
import type { AppRecord, Deployment, TaskRecord } from './model.js';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function taskView(task: TaskRecord): Record<string, unknown> {
  return {
    id: task.taskId,
    appId: task.appId,
    host: task.host,
    ports: task.ports,
    slaveId: task.agentId,
    state: task.state,
    stagedAt: iso(task.stagedAt),
    startedAt: iso(task.startedAt),
    version: task.version,
    ...(task.killing ? { killing: task.killing.reason } : {}),
    healthCheckResults: task.health
      .map((h) => ({
        alive: h.alive ?? false,
        consecutiveFailures: h.consecutiveFailures,
        firstSuccess: iso(h.firstSuccess),
        lastSuccess: iso(h.lastSuccess),
        lastFailure: iso(h.lastFailure),
        lastFailureCause: h.lastFailureCause ?? null,
        taskId: task.taskId,
      })),
  };
}

export function appView(keeper: Keeper, app: AppRecord, embedTasks: boolean): Record<string, unknown> {
  const tasks = keeper.tasksOf(app.definition.id);
  const healthChecked = app.definition.healthChecks.length > 0;
  const backoff = keeper.backoffOf(app.definition.id);
  return {
    ...appInputOf(app.definition),
    version: app.version,
    versionInfo: { lastScalingAt: app.lastScalingAt, lastConfigChangeAt: app.configVersion },
    tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
    tasksRunning: tasks.filter((t) => t.state === 'TASK_RUNNING').length,
    tasksHealthy: healthChecked ? tasks.filter((t) => keeper.isHealthy(t)).length : 0,
    tasksUnhealthy: healthChecked ? tasks.filter((t) => t.state === 'TASK_RUNNING' && t.health.some((h) => h.alive === false)).length : 0,
    deployments: keeper.deploymentsOf(app.definition.id).map((d) => ({ id: d.id })),
    ...(backoff && backoff.notBefore > Date.now() ? { backoffUntil: iso(backoff.notBefore) } : {}),
    ...(embedTasks ? { tasks: tasks.map(taskView) } : {}),
  };
}

export function deploymentView(keeper: Keeper, deployment: Deployment): Record<string, unknown> {
  const plan = keeper.planView(deployment);
  const current = keeper.stepView(deployment, deployment.currentStep);
  return {
    id: deployment.id,
    version: deployment.version,
    affectedApps: [deployment.appId],
    affectedPods: [],
    steps: plan.steps,
    currentActions: current.actions.map((a) => ({ ...a, readinessCheckResults: [] })),
    currentStep: deployment.currentStep + 1,
    totalSteps: deployment.steps.length,
  };
}
