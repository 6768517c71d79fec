// Between the Mesos v1 JSON shapes and Tessera's own wire types (common/types.ts).
import {
  assertNever,
  ipv4ToMesosUint32,
  TesseraError,
  ValidationError,
  compileValidator,
  fromMesosResources,
  taskInfoSchema,
  toMesosResources,
  type AgentAttributes,
  type CommandInfo,
  type ContainerInfo,
  type HealthCheck,
  type MasterInfo,
  type Resources,
  type TaskInfo,
  type TaskStatus,
  type MesosCommandInfo,
  type MesosContainerInfo,
  type MesosAttribute,
  type MesosFilters,
  type MesosHealthCheck,
  type MesosKillPolicy,
  type MesosMasterInfo,
  type MesosOffer,
  type MesosTaskInfo,
  type MesosTaskStatus,
} from '../../common/index.js';
import { isIP } from 'node:net';
import { bracketPath } from './field-path.js';

/**
 * Task ids become sandbox paths, cgroup and container names on the agent, whose launch schema
 * (common/schemas.ts ID_PATTERN) allows these characters and at most 200 of them.
 */
const TASK_ID_CHARS = /^[A-Za-z0-9_.:@-]+$/;
const MAX_TASK_ID = 200;

const validateTaskInfo = compileValidator(taskInfoSchema);

/** Mesos's default decline filter. */
export const DEFAULT_REFUSE_SECONDS = 5;
const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

/**
 * A launch's TaskInfo as Tessera runs it. `field` names the task in errors
 * (`accept.operations[0].launch.task_infos[1]`). Throws ValidationError for anything invalid or
 * unsupported; Mesos answers such a task with TASK_ERROR / REASON_TASK_INVALID and the message.
 */
export function taskInfoFromMesos(t: MesosTaskInfo, frameworkId: string, field: string): TaskInfo {
  const at = (sub: string): string => `${field}.${sub}`;
  if ((t as { executor?: unknown }).executor !== undefined) {
    throw new ValidationError(at('executor'), 'custom executors are not supported; give a command and/or a DOCKER container');
  }
  checkTaskId(t.task_id.value, at('task_id.value'));

  const resources = fromMesosResources(t.resources, at('resources'));
  if (resources.cpus <= 0 && resources.mem <= 0) throw new ValidationError(at('resources'), 'must include cpus or mem');

  const container = t.container === undefined ? undefined : containerFromMesos(t.container, at('container'));
  const command = t.command === undefined ? undefined : commandFromMesos(t.command, at('command'));
  if (container?.type !== 'DOCKER' && command?.value === undefined) {
    throw new ValidationError(at('command.value'), 'is required unless the task runs in a DOCKER container');
  }

  const info: TaskInfo = {
    task_id: t.task_id.value,
    name: t.name,
    agent_id: t.agent_id.value,
    framework_id: frameworkId,
    resources,
  };
  if (command !== undefined) info.command = command;
  if (container !== undefined) info.container = container;
  const grace = gracePeriodSeconds(t.kill_policy, at('kill_policy'));
  if (grace !== undefined) info.kill_grace_period_seconds = grace;
  if (t.health_check !== undefined) info.health_check = healthCheckFromMesos(t.health_check, at('health_check'));

  // What the agent's launch schema refuses must fail here, with the Mesos field's name.
  try {
    return validateTaskInfo(info);
  } catch (err) {
    if (err instanceof ValidationError && err.field !== undefined) throw mesosFieldError(err, field);
    throw err;
  }
}

function checkTaskId(id: string, field: string): void {
  if (id === '.' || id === '..') throw new ValidationError(field, `must not be '${id}'`);
  if (id.includes('/')) throw new ValidationError(field, "must not contain '/'");
  if (id.length > MAX_TASK_ID) throw new ValidationError(field, `must be at most ${MAX_TASK_ID} characters`);
  if (!TASK_ID_CHARS.test(id)) throw new ValidationError(field, 'may only contain letters, digits and _ . : @ -');
}

function commandFromMesos(c: MesosCommandInfo, field: string): CommandInfo {
  if (c.uris !== undefined && c.uris.length > 0) {
    throw new ValidationError(`${field}.uris`, 'fetching URIs is not supported; bake the files into a Docker image');
  }
  const command: CommandInfo = {};
  if (c.shell !== undefined) command.shell = c.shell;
  if (c.value !== undefined && c.value !== '') command.value = c.value;
  if (c.arguments !== undefined) command.arguments = [...c.arguments];
  if (c.user !== undefined && c.user !== '') command.user = c.user;
  if (c.environment !== undefined) {
    const variables = c.environment.variables.map((v, i) => {
      const where = `${field}.environment.variables[${i}]`;
      if (v.type !== undefined && v.type !== 'VALUE') throw new ValidationError(`${where}.type`, `${v.type} variables are not supported (only VALUE)`);
      if (v.value === undefined) throw new ValidationError(`${where}.value`, 'is required');
      return { name: v.name, value: v.value };
    });
    command.environment = { variables };
  }
  return command;
}

/** HealthCheck → Tessera's; the call schema already checked numbers, type and sub-messages. */
function healthCheckFromMesos(h: MesosHealthCheck, field: string): HealthCheck {
  const check: HealthCheck = { type: h.type };
  switch (h.type) {
    case 'COMMAND':
      if (h.command === undefined) throw new ValidationError(`${field}.command`, 'is required for a COMMAND health check');
      check.command = commandFromMesos(h.command, `${field}.command`);
      if (check.command.value === undefined) throw new ValidationError(`${field}.command.value`, 'is required');
      break;
    case 'HTTP': {
      if (h.http === undefined) throw new ValidationError(`${field}.http`, 'is required for an HTTP health check');
      const http: NonNullable<HealthCheck['http']> = { port: h.http.port };
      if (h.http.path !== undefined) http.path = h.http.path;
      if (h.http.scheme !== undefined) {
        if (h.http.scheme !== 'http' && h.http.scheme !== 'https') throw new ValidationError(`${field}.http.scheme`, "must be 'http' or 'https'");
        http.scheme = h.http.scheme;
      }
      check.http = http;
      break;
    }
    case 'TCP':
      if (h.tcp === undefined) throw new ValidationError(`${field}.tcp`, 'is required for a TCP health check');
      check.tcp = { port: h.tcp.port };
      break;
    default:
      assertNever(h.type);
  }
  for (const key of ['delay_seconds', 'interval_seconds', 'timeout_seconds', 'consecutive_failures', 'grace_period_seconds'] as const) {
    const value = h[key];
    if (value !== undefined) check[key] = value;
  }
  return check;
}

/** A MESOS container without an image is a plain command task: undefined. */
function containerFromMesos(c: MesosContainerInfo, field: string): ContainerInfo | undefined {
  const volumes = (c as { volumes?: unknown }).volumes;
  if (Array.isArray(volumes) && volumes.length > 0) throw new ValidationError(`${field}.volumes`, 'volumes are not supported');
  if (c.type === 'MESOS') {
    if ((c as { mesos?: { image?: unknown } }).mesos?.image !== undefined) {
      throw new ValidationError(`${field}.mesos.image`, 'container images need type DOCKER');
    }
    return undefined;
  }
  const d = c.docker;
  if (d === undefined) throw new ValidationError(`${field}.docker`, 'is required for a DOCKER container');
  if (d.network === 'USER') throw new ValidationError(`${field}.docker.network`, 'USER networks are not supported (HOST, BRIDGE, NONE)');
  if (d.privileged === true) throw new ValidationError(`${field}.docker.privileged`, 'privileged containers are not supported');
  if (d.parameters !== undefined && d.parameters.length > 0) {
    throw new ValidationError(`${field}.docker.parameters`, 'docker parameters are not supported');
  }
  if (d.port_mappings !== undefined && d.port_mappings.length > 0) {
    throw new ValidationError(`${field}.docker.port_mappings`, 'port mappings are not supported; use network HOST and the offered ports (PORT0…)');
  }
  const docker: ContainerInfo['docker'] = { image: d.image };
  if (d.network !== undefined) docker.network = d.network;
  if (d.force_pull_image !== undefined) docker.force_pull_image = d.force_pull_image;
  return { type: 'DOCKER', docker };
}

/** kill_policy.grace_period.nanoseconds as seconds; undefined when no grace period is given. */
export function gracePeriodSeconds(policy: MesosKillPolicy | undefined, field: string): number | undefined {
  const raw = policy?.grace_period?.nanoseconds;
  if (raw === undefined) return undefined;
  const nanos = typeof raw === 'string' ? Number(raw) : raw;
  if (!Number.isFinite(nanos) || !Number.isInteger(nanos) || nanos < 0) {
    throw new ValidationError(`${field}.grace_period.nanoseconds`, 'must be an integer >= 0');
  }
  return nanos / 1e9;
}

/** filters.refuse_seconds as Mesos reads it: absent, negative or not finite → 5 s; at most a year. */
export function refuseSeconds(filters: MesosFilters | undefined): number {
  const value = filters?.refuse_seconds;
  if (value === undefined || !Number.isFinite(value) || value < 0) return DEFAULT_REFUSE_SECONDS;
  return Math.min(value, MAX_REFUSE_SECONDS);
}

/** A common-schema error on the converted TaskInfo, renamed to the Mesos field the user wrote. */
function mesosFieldError(err: ValidationError, field: string): ValidationError {
  const ours = err.field ?? '';
  const prefix = `${ours}: `;
  const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  const [head = '', ...rest] = ours.split('.');
  switch (head) {
    case 'task_id':
    case 'agent_id':
      return new ValidationError(`${field}.${head}.value`, message);
    case 'framework_id':
      return new ValidationError('framework_id.value', message);
    case 'resources':
      return new ValidationError(`${field}.resources`, rest.length > 0 ? `${rest.join('.')} ${message}` : message);
    case 'kill_grace_period_seconds':
      return new ValidationError(`${field}.kill_policy.grace_period.nanoseconds`, `as seconds ${message}`);
    default:
      return new ValidationError(`${field}.${bracketPath(ours)}`, message);
  }
}

// ---- status updates ------------------------------------------------------------------------------

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** A canonical UUID string as Mesos sends it: its 16 raw bytes, base64. */
export function uuidToMesos(uuid: string): string {
  if (!CANONICAL_UUID.test(uuid)) throw new TesseraError('INTERNAL', `status update uuid '${uuid}' is not a canonical UUID`);
  return Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64');
}

/** An acknowledgement's base64 uuid (16 raw bytes) as the canonical UUID string; else ValidationError. */
export function uuidFromMesos(base64: string, field: string): string {
  if (!BASE64.test(base64)) throw new ValidationError(field, 'must be base64');
  const bytes = Buffer.from(base64.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length !== 16) throw new ValidationError(field, `must be 16 bytes in base64 (a UUID), got ${bytes.length}`);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A status update as the framework sees it. `withUuid: false` for answers that are not retried and
 * must not be acknowledged (reconciliation, Mesos sends them without uuid).
 */
export function statusToMesos(status: TaskStatus, options: { withUuid?: boolean } = {}): MesosTaskStatus {
  const out: MesosTaskStatus = {
    task_id: { value: status.task_id },
    state: status.state,
    source: status.source,
    timestamp: status.timestamp,
  };
  if (status.reason !== undefined) out.reason = status.reason;
  if (status.message !== undefined) out.message = status.message;
  if (status.agent_id !== undefined) out.agent_id = { value: status.agent_id };
  if (options.withUuid !== false) out.uuid = uuidToMesos(status.uuid);
  // Mesos's ContainerStatus has no exit code; only the container id goes out.
  const containerId = status.container_status?.container_id;
  if (containerId !== undefined) out.container_status = { container_id: { value: containerId } };
  if (status.healthy !== undefined) out.healthy = status.healthy;
  return out;
}

// ---- offers and master info ----------------------------------------------------------------------

export interface OfferView {
  id: string;
  frameworkId: string;
  agentId: string;
  hostname: string;
  resources: Resources;
  /** The agent's HTTP address (Offer.url). */
  agentUrl?: { ip: string; port: number };
  /** The role the resources are allocated to; '*' when absent. */
  role?: string;
  /** The agent's `--attributes`. */
  attributes?: AgentAttributes;
}

export function offerToMesos(o: OfferView): MesosOffer {
  const role = o.role ?? '*';
  const offer: MesosOffer = {
    id: { value: o.id },
    framework_id: { value: o.frameworkId },
    agent_id: { value: o.agentId },
    hostname: o.hostname,
    resources: toMesosResources(o.resources, { role: '*', allocationRole: role }),
    allocation_info: { role },
  };
  if (o.agentUrl !== undefined) {
    offer.url = { scheme: 'http', address: { hostname: o.hostname, ip: o.agentUrl.ip, port: o.agentUrl.port }, path: '/' };
  }
  if (o.attributes !== undefined && Object.keys(o.attributes).length > 0) offer.attributes = attributesToMesos(o.attributes);
  return offer;
}

/** Agent attributes as Mesos's Attribute messages: numbers are SCALAR, everything else TEXT. */
export function attributesToMesos(attributes: AgentAttributes): MesosAttribute[] {
  return Object.entries(attributes).map(([name, value]): MesosAttribute =>
    typeof value === 'number' ? { name, type: 'SCALAR', scalar: { value } } : { name, type: 'TEXT', text: { value } },
  );
}

/** MasterInfo for SUBSCRIBED: the top-level `ip` as Mesos's uint32 (IPv4 in network order); 0 for IPv6. */
export function masterInfoToMesos(info: MasterInfo): MesosMasterInfo {
  return {
    id: info.id,
    ip: isIP(info.ip) === 4 ? ipv4ToMesosUint32(info.ip) : 0,
    port: info.port,
    pid: info.pid,
    hostname: info.hostname,
    version: info.version,
    address: { hostname: info.address.hostname, ip: info.address.ip, port: info.address.port },
  };
}
