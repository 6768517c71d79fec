// Turns an app and the place chosen for one of its tasks into a Mesos TaskInfo: resources (ports
// taken from the offer), the command or Docker container, and Marathon's environment (PORT0…,
// MARATHON_APP_ID…).
import { toMesosResources, type MesosEnvironmentVariable, type MesosTaskInfo, type PortRange } from '../../common/index.js';
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
    // Mesos argv form: `value` is the program, `arguments` the whole argv.
    task.command = def.container
      ? { shell: false, arguments: def.args, environment: { variables } }
      : { shell: false, value: def.args[0] ?? '', arguments: def.args.slice(1), environment: { variables } };
  } else {
    task.command = { shell: false, environment: { variables } };
  }
  if (def.container) {
    task.container = {
      type: 'DOCKER',
      docker: { image: def.container.docker.image, network: def.container.docker.network, force_pull_image: def.container.docker.forcePullImage },
    };
  }
  return task;
}
