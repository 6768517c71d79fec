// Turns an app and the place chosen for one of its tasks into a Mesos TaskInfo: resources (ports
// taken from the offer), the command or Docker container, and Marathon's environment (PORT0…,
// MARATHON_APP_ID…).
import { toMesosResources, type MesosEnvironmentVariable, type MesosTaskInfo, type PortRange } from '../../common/index.js';
import { isCommandCheck } from './app-definition.js';
import type { AppRecord } from './model.js';

/** `/group/web` → `group_web`, Marathon's task id prefix. */
export function appSlug(appId: string): string {
  return appId.replace(/^\//, '').replace(/\//g, '_');
}

export interface TaskPlacement {
  taskId: string;
  agentId: string;
  host: string;
  ports: number[];
}

export function buildTaskInfo(app: AppRecord, place: TaskPlacement): MesosTaskInfo {
  const def = app.definition;
  const ports: PortRange[] = place.ports.map((p) => ({ begin: p, end: p }));
  const env: Record<string, string> = {
    ...def.env,
    MARATHON_APP_ID: def.id,
    MARATHON_APP_VERSION: app.configVersion,
    MESOS_TASK_ID: place.taskId,
    HOST: place.host,
  };
  place.ports.forEach((port, i) => {
    env[`PORT${i}`] = String(port);
    const name = def.portDefinitions[i]?.name;
    if (name) env[`PORT_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = String(port);
  });
  if (place.ports[0] !== undefined) env.PORT = String(place.ports[0]);
  if (place.ports.length > 0) env.PORTS = place.ports.join(',');
  const variables: MesosEnvironmentVariable[] = Object.entries(env).map(([name, value]) => ({ name, value }));

  const task: MesosTaskInfo = {
    name: appSlug(def.id),
    task_id: { value: place.taskId },
    agent_id: { value: place.agentId },
    resources: toMesosResources({ cpus: def.cpus, mem: def.mem, ...(def.disk > 0 ? { disk: def.disk } : {}), ...(ports.length > 0 ? { ports } : {}) }),
    labels: { labels: [{ key: 'MARATHON_APP_ID', value: def.id }, { key: 'MARATHON_APP_VERSION', value: app.configVersion }] },
  };
  if (def.cmd !== undefined) {
    task.command = { shell: true, value: def.cmd, environment: { variables } };
  } else if (def.args !== undefined) {
    // argv form: `value` is the program, `arguments` the rest. In a container the agent makes them the
    // container's Cmd, which (as Marathon's args) goes to the image's entrypoint when it has one.
    task.command = { shell: false, value: def.args[0] ?? '', arguments: def.args.slice(1), environment: { variables } };
  } else {
    task.command = { shell: false, environment: { variables } };
  }
  // The app's COMMAND check (at most one, as Mesos runs one per task) goes to the agent with the task.
  const check = def.healthChecks.find(isCommandCheck);
  if (check?.command) {
    task.health_check = {
      type: 'COMMAND',
      // The task's environment too: a check may look at $PORT0 or $MARATHON_APP_ID like the task does.
      command: { shell: true, value: check.command.value, environment: { variables } },
      delay_seconds: 0,
      interval_seconds: check.intervalSeconds,
      timeout_seconds: check.timeoutSeconds,
      // 0: never kill for failing (Marathon's meaning, and the agent's).
      consecutive_failures: check.maxConsecutiveFailures,
      grace_period_seconds: check.gracePeriodSeconds,
    };
  }
  if (def.container) {
    task.container = {
      type: 'DOCKER',
      docker: { image: def.container.docker.image, network: def.container.docker.network, force_pull_image: def.container.docker.forcePullImage },
    };
  }
  return task;
}
