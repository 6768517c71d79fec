// Marathon app definitions: the JSON users POST (Marathon field names), its ajv schema, and the
// normalized form the keeper works with (every default filled in, ids absolute).
import type { JSONSchemaType } from 'ajv';
import { ValidationError, assertNever, compileValidator } from '../../common/index.js';

export const CONSTRAINT_OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'LIKE', 'UNLIKE', 'MAX_PER'] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

/**
 * Health check protocols. HTTP and TCP (MESOS_HTTP/MESOS_TCP alike) are probed by the framework;
 * COMMAND (MESOS_COMMAND alike) runs inside the task, by its agent, which reports `healthy` in status updates.
 */
export const HEALTH_PROTOCOLS = ['HTTP', 'TCP', 'MESOS_HTTP', 'MESOS_TCP', 'COMMAND', 'MESOS_COMMAND'] as const;
export type HealthProtocol = (typeof HEALTH_PROTOCOLS)[number];

/** Whether the agent runs this check (a command inside the task) rather than the framework. */
export function isCommandCheck(check: Pick<HealthCheck, 'protocol'>): boolean {
  return check.protocol === 'COMMAND' || check.protocol === 'MESOS_COMMAND';
}

export interface HealthCheckInput {
  protocol?: string;
  path?: string;
  portIndex?: number;
  port?: number;
  gracePeriodSeconds?: number;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  maxConsecutiveFailures?: number;
  ignoreHttp1xx?: boolean;
  command?: { value: string };
}

export interface PortDefinitionInput {
  port: number;
  protocol?: string;
  name?: string;
}

/** What a client sends (POST /v2/apps, PUT /v2/apps/{id}): Marathon's names, everything but id optional. */
export interface AppInput {
  id?: string;
  cmd?: string | null;
  args?: string[] | null;
  container?: {
    type?: string;
    docker?: { image: string; network?: string; forcePullImage?: boolean; privileged?: boolean };
  } | null;
  cpus?: number;
  mem?: number;
  disk?: number;
  instances?: number;
  env?: Record<string, string>;
  constraints?: string[][];
  portDefinitions?: PortDefinitionInput[];
  ports?: number[];
  healthChecks?: HealthCheckInput[];
  upgradeStrategy?: { minimumHealthCapacity?: number; maximumOverCapacity?: number };
  backoffSeconds?: number;
  backoffFactor?: number;
  maxLaunchDelaySeconds?: number;
  labels?: Record<string, string>;
  // Fields Marathon returns; accepted (ignored) so a GET body can be PUT back unchanged.
  version?: string;
  versionInfo?: unknown;
  tasksRunning?: number;
  tasksStaged?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  deployments?: unknown;
  tasks?: unknown;
}

export interface HealthCheck {
  protocol: HealthProtocol;
  path: string;
  portIndex: number;
  /** A fixed port instead of the task's port `portIndex`. */
  port?: number;
  gracePeriodSeconds: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  /** 0: never kill for failing this check. */
  maxConsecutiveFailures: number;
  ignoreHttp1xx: boolean;
  /** COMMAND checks: the shell command, run in the task's container; exit 0 is healthy. */
  command?: { value: string };
}

export interface Constraint {
  field: string;
  operator: ConstraintOperator;
  value?: string;
}

/** A validated app with every default applied. */
export interface AppDefinition {
  id: string;
  cmd?: string;
  args?: string[];
  container?: { type: 'DOCKER'; docker: { image: string; network: 'HOST' | 'BRIDGE' | 'NONE'; forcePullImage: boolean } };
  cpus: number;
  mem: number;
  disk: number;
  instances: number;
  env: Record<string, string>;
  constraints: Constraint[];
  portDefinitions: Array<{ port: number; protocol: string; name?: string }>;
  healthChecks: HealthCheck[];
  upgradeStrategy: { minimumHealthCapacity: number; maximumOverCapacity: number };
  backoffSeconds: number;
  backoffFactor: number;
  maxLaunchDelaySeconds: number;
  labels: Record<string, string>;
}

const stringMap = {
  type: 'object',
  additionalProperties: { type: 'string' },
  required: [],
  nullable: true,
} as const;

const healthCheckSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    protocol: { type: 'string', nullable: true },
    path: { type: 'string', nullable: true },
    portIndex: { type: 'integer', minimum: 0, nullable: true },
    port: { type: 'integer', minimum: 1, maximum: 65535, nullable: true },
    gracePeriodSeconds: { type: 'number', minimum: 0, nullable: true },
    intervalSeconds: { type: 'number', exclusiveMinimum: 0, nullable: true },
    timeoutSeconds: { type: 'number', exclusiveMinimum: 0, nullable: true },
    maxConsecutiveFailures: { type: 'integer', minimum: 0, nullable: true },
    ignoreHttp1xx: { type: 'boolean', nullable: true },
    command: {
      type: 'object',
      properties: { value: { type: 'string' } },
      required: ['value'],
      nullable: true,
    },
    // Marathon fields we accept and do not use.
    delaySeconds: { type: 'number', nullable: true },
    portName: { type: 'string', nullable: true },
  },
  required: [],
} as const;

// Written as a plain schema and checked against AppInput by the cast below (the optional/nullable
// mix of Marathon's format is more than JSONSchemaType's inference follows).
const appSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, nullable: true },
    cmd: { type: 'string', minLength: 1, nullable: true },
    args: { type: 'array', items: { type: 'string' }, minItems: 1, nullable: true },
    container: {
      type: 'object',
      nullable: true,
      additionalProperties: true,
      properties: {
        type: { type: 'string', enum: ['DOCKER', 'MESOS'], nullable: true },
        docker: {
          type: 'object',
          nullable: true,
          additionalProperties: true,
          properties: {
            image: { type: 'string', minLength: 1 },
            network: { type: 'string', enum: ['HOST', 'BRIDGE', 'NONE'], nullable: true },
            forcePullImage: { type: 'boolean', nullable: true },
            privileged: { type: 'boolean', nullable: true },
          },
          required: ['image'],
        },
      },
      required: [],
    },
    cpus: { type: 'number', exclusiveMinimum: 0, nullable: true },
    mem: { type: 'number', exclusiveMinimum: 0, nullable: true },
    disk: { type: 'number', minimum: 0, nullable: true },
    instances: { type: 'integer', minimum: 0, nullable: true },
    env: stringMap,
    constraints: {
      type: 'array',
      nullable: true,
      items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 3 },
    },
    portDefinitions: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          port: { type: 'integer', minimum: 0, maximum: 65535 },
          protocol: { type: 'string', enum: ['tcp', 'udp', 'udp,tcp'], nullable: true },
          name: { type: 'string', nullable: true },
        },
        required: ['port'],
      },
    },
    ports: { type: 'array', nullable: true, items: { type: 'integer', minimum: 0, maximum: 65535 } },
    healthChecks: { type: 'array', nullable: true, items: healthCheckSchema },
    upgradeStrategy: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      properties: {
        minimumHealthCapacity: { type: 'number', minimum: 0, maximum: 1, nullable: true },
        maximumOverCapacity: { type: 'number', minimum: 0, maximum: 1, nullable: true },
      },
      required: [],
    },
    backoffSeconds: { type: 'number', minimum: 0, nullable: true },
    backoffFactor: { type: 'number', minimum: 1, nullable: true },
    maxLaunchDelaySeconds: { type: 'number', minimum: 0, nullable: true },
    labels: stringMap,
    version: { type: 'string', nullable: true },
    versionInfo: {},
    tasksRunning: { type: 'number', nullable: true },
    tasksStaged: { type: 'number', nullable: true },
    tasksHealthy: { type: 'number', nullable: true },
    tasksUnhealthy: { type: 'number', nullable: true },
    deployments: {},
    tasks: {},
  },
  required: [],
};

const validateAppInput = compileValidator<AppInput>(appSchema as unknown as JSONSchemaType<AppInput>);

// Marathon: path segments of lowercase letters, digits, '-' and '.', not starting/ending with '-' or '.'.
const ID_SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9\-.]*[a-z0-9])|\.|\.\.)$/;

/** `web`, `/web`, `/group/web/` → `/web`, `/group/web`; a bad id is a ValidationError naming `id`. */
export function normalizeAppId(raw: string): string {
  const segments = raw.split('/').filter((s) => s !== '');
  if (segments.length === 0) throw new ValidationError('id', 'must name an app, e.g. "/web"');
  for (const segment of segments) {
    if (segment === '.' || segment === '..' || !ID_SEGMENT.test(segment)) {
      throw new ValidationError('id', `'${raw}' is not a valid app id: path segments use lowercase letters, digits, '-' and '.'`);
    }
  }
  return `/${segments.join('/')}`;
}

export const APP_DEFAULTS = {
  cpus: 1,
  mem: 128,
  disk: 0,
  instances: 1,
  backoffSeconds: 1,
  backoffFactor: 1.15,
  maxLaunchDelaySeconds: 300,
  minimumHealthCapacity: 1,
  maximumOverCapacity: 1,
  gracePeriodSeconds: 300,
  intervalSeconds: 60,
  timeoutSeconds: 20,
  maxConsecutiveFailures: 3,
} as const;

/**
 * Checks a client's app JSON and returns it normalized. `idFromPath` (PUT /v2/apps/{id}) wins over a
 * missing body id and must agree with a present one. Every error is a ValidationError naming the field.
 */
export function parseAppDefinition(body: unknown, idFromPath?: string): AppDefinition {
  const input = validateAppInput(body);
  let id: string;
  if (idFromPath !== undefined) {
    id = normalizeAppId(idFromPath);
    if (input.id !== undefined && input.id !== null && normalizeAppId(input.id) !== id) {
      throw new ValidationError('id', `'${input.id}' does not match the app id in the path '${id}'`);
    }
  } else {
    if (input.id === undefined || input.id === null) throw new ValidationError('id', 'is required');
    id = normalizeAppId(input.id);
  }

  const cmd = input.cmd ?? undefined;
  const args = input.args ?? undefined;
  if (cmd !== undefined && args !== undefined) throw new ValidationError('args', 'give either cmd or args, not both');
  let container: AppDefinition['container'];
  if (input.container) {
    const type = input.container.type ?? 'DOCKER';
    if (type !== 'DOCKER') throw new ValidationError('container.type', "only 'DOCKER' containers are supported");
    if (!input.container.docker) throw new ValidationError('container.docker', 'is required for a DOCKER container');
    const network = input.container.docker.network ?? 'HOST';
    if (network !== 'HOST' && network !== 'BRIDGE' && network !== 'NONE') throw new ValidationError('container.docker.network', 'must be HOST, BRIDGE or NONE');
    container = {
      type: 'DOCKER',
      docker: { image: input.container.docker.image, network, forcePullImage: input.container.docker.forcePullImage ?? false },
    };
  }
  if (cmd === undefined && args === undefined && container === undefined) {
    throw new ValidationError('cmd', 'one of cmd, args or container.docker.image is required');
  }

  if (input.portDefinitions && input.ports) throw new ValidationError('ports', 'give either ports or portDefinitions, not both');
  const portDefinitions = input.portDefinitions
    ? input.portDefinitions.map((p) => ({ port: p.port, protocol: p.protocol ?? 'tcp', ...(p.name ? { name: p.name } : {}) }))
    : (input.ports ?? [0]).map((port) => ({ port, protocol: 'tcp' }));

  const constraints = (input.constraints ?? []).map((c, i) => parseConstraint(c, `constraints[${i}]`));

  const healthChecks = (input.healthChecks ?? []).map((h, i) => parseHealthCheck(h, `healthChecks[${i}]`, portDefinitions.length));
  // Mesos gives a task one health_check: a second COMMAND check has nowhere to run.
  const commandChecks = healthChecks.flatMap((h, i) => (isCommandCheck(h) ? [i] : []));
  if (commandChecks.length > 1) {
    throw new ValidationError(`healthChecks[${commandChecks[1]}]`, `only one COMMAND health check per app (healthChecks[${commandChecks[0]}] is one already)`);
  }

  const upgradeStrategy = {
    minimumHealthCapacity: input.upgradeStrategy?.minimumHealthCapacity ?? APP_DEFAULTS.minimumHealthCapacity,
    maximumOverCapacity: input.upgradeStrategy?.maximumOverCapacity ?? APP_DEFAULTS.maximumOverCapacity,
  };
  if (upgradeStrategy.minimumHealthCapacity === 1 && upgradeStrategy.maximumOverCapacity === 0) {
    // No old instance may go and no new one may start: a deployment could never make progress.
    throw new ValidationError('upgradeStrategy', 'minimumHealthCapacity 1 with maximumOverCapacity 0 leaves no room to deploy');
  }

  const app: AppDefinition = {
    id,
    cpus: input.cpus ?? APP_DEFAULTS.cpus,
    mem: input.mem ?? APP_DEFAULTS.mem,
    disk: input.disk ?? APP_DEFAULTS.disk,
    instances: input.instances ?? APP_DEFAULTS.instances,
    env: input.env ?? {},
    constraints,
    portDefinitions,
    healthChecks,
    upgradeStrategy,
    backoffSeconds: input.backoffSeconds ?? APP_DEFAULTS.backoffSeconds,
    backoffFactor: input.backoffFactor ?? APP_DEFAULTS.backoffFactor,
    maxLaunchDelaySeconds: input.maxLaunchDelaySeconds ?? APP_DEFAULTS.maxLaunchDelaySeconds,
    labels: input.labels ?? {},
  };
  if (cmd !== undefined) app.cmd = cmd;
  if (args !== undefined) app.args = args;
  if (container !== undefined) app.container = container;
  for (const name of Object.keys(app.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ValidationError(`env.${name}`, 'is not a valid environment variable name');
  }
  return app;
}

function parseConstraint(raw: string[], where: string): Constraint {
  const [field, operator, value] = raw;
  if (!field) throw new ValidationError(`${where}[0]`, 'must name a field (hostname or an agent attribute)');
  if (!CONSTRAINT_OPERATORS.includes(operator as ConstraintOperator)) {
    throw new ValidationError(`${where}[1]`, `unsupported operator '${String(operator)}' (supported: ${CONSTRAINT_OPERATORS.join(', ')})`);
  }
  const op = operator as ConstraintOperator;
  switch (op) {
    case 'UNIQUE':
      if (value !== undefined) throw new ValidationError(`${where}[2]`, 'UNIQUE takes no value');
      break;
    case 'CLUSTER':
      break;
    case 'LIKE':
    case 'UNLIKE':
      if (value === undefined) throw new ValidationError(`${where}[2]`, `${op} needs a regular expression`);
      try {
        new RegExp(value);
      } catch {
        throw new ValidationError(`${where}[2]`, `'${value}' is not a valid regular expression`);
      }
      break;
    case 'MAX_PER':
      if (value === undefined || !/^[1-9][0-9]*$/.test(value)) throw new ValidationError(`${where}[2]`, 'MAX_PER needs a positive integer');
      break;
    case 'GROUP_BY':
      // The optional value: how many distinct values of the field to spread over.
      if (value !== undefined && !/^[1-9][0-9]*$/.test(value)) throw new ValidationError(`${where}[2]`, 'GROUP_BY takes an optional positive integer (the number of groups)');
      break;
    default:
      assertNever(op, 'constraint operator');
  }
  return value === undefined ? { field, operator: op } : { field, operator: op, value };
}

function parseHealthCheck(h: HealthCheckInput, where: string, portCount: number): HealthCheck {
  const protocol = h.protocol ?? 'HTTP';
  if (!HEALTH_PROTOCOLS.includes(protocol as HealthProtocol)) {
    throw new ValidationError(`${where}.protocol`, `must be one of ${HEALTH_PROTOCOLS.join(', ')}`);
  }
  const command = isCommandCheck({ protocol: protocol as HealthProtocol });
  if (command && (h.command === undefined || h.command === null || h.command.value.trim() === '')) {
    throw new ValidationError(`${where}.command.value`, `is required for a ${protocol} health check (a shell command; exit 0 is healthy)`);
  }
  if (!command && h.command) throw new ValidationError(`${where}.command`, `only COMMAND health checks run a command (this one is ${protocol})`);
  const portIndex = h.portIndex ?? 0;
  // A command check uses no port of the task.
  if (!command && h.port === undefined && portIndex >= portCount) {
    throw new ValidationError(`${where}.portIndex`, `is ${portIndex} but the app has ${portCount} port(s)`);
  }
  const path = h.path ?? '/';
  if (!path.startsWith('/')) throw new ValidationError(`${where}.path`, "must start with '/'");
  const check: HealthCheck = {
    protocol: protocol as HealthProtocol,
    path,
    portIndex,
    gracePeriodSeconds: h.gracePeriodSeconds ?? APP_DEFAULTS.gracePeriodSeconds,
    intervalSeconds: h.intervalSeconds ?? APP_DEFAULTS.intervalSeconds,
    timeoutSeconds: h.timeoutSeconds ?? APP_DEFAULTS.timeoutSeconds,
    maxConsecutiveFailures: h.maxConsecutiveFailures ?? APP_DEFAULTS.maxConsecutiveFailures,
    ignoreHttp1xx: h.ignoreHttp1xx ?? false,
  };
  if (h.port !== undefined) check.port = h.port;
  if (command && h.command) check.command = { value: h.command.value };
  if (check.timeoutSeconds > check.intervalSeconds) {
    throw new ValidationError(`${where}.timeoutSeconds`, 'must not be longer than intervalSeconds');
  }
  return check;
}

/** Whether two definitions differ in more than `instances` (a config change restarts tasks; a scale does not). */
export function configChanged(a: AppDefinition, b: AppDefinition): boolean {
  return JSON.stringify({ ...a, instances: 0 }) !== JSON.stringify({ ...b, instances: 0 });
}

/** A stored definition back in Marathon's input form (what GET shows and a partial PUT merges onto). */
export function appInputOf(def: AppDefinition): AppInput {
  const input: AppInput = {
    id: def.id,
    cpus: def.cpus,
    mem: def.mem,
    disk: def.disk,
    instances: def.instances,
    env: def.env,
    constraints: def.constraints.map((c) => (c.value === undefined ? [c.field, c.operator] : [c.field, c.operator, c.value])),
    portDefinitions: def.portDefinitions,
    healthChecks: def.healthChecks.map((h) => ({ ...h })),
    upgradeStrategy: def.upgradeStrategy,
    backoffSeconds: def.backoffSeconds,
    backoffFactor: def.backoffFactor,
    maxLaunchDelaySeconds: def.maxLaunchDelaySeconds,
    labels: def.labels,
  };
  if (def.cmd !== undefined) input.cmd = def.cmd;
  if (def.args !== undefined) input.args = def.args;
  if (def.container !== undefined) input.container = { type: 'DOCKER', docker: { ...def.container.docker } };
  return input;
}

/**
 * PUT /v2/apps/{id} is a partial update (Marathon's default): the body's fields over the stored app's.
 * A body that brings cmd drops the stored args and the other way round.
 */
export function mergeAppUpdate(existing: AppDefinition, body: unknown, idFromPath: string): AppDefinition {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError(undefined, 'the body must be a JSON object');
  const base: Record<string, unknown> = { ...appInputOf(existing) };
  if ('cmd' in body) delete base.args;
  if ('args' in body) delete base.cmd;
  if ('ports' in body) delete base.portDefinitions;
  return parseAppDefinition({ ...base, ...body }, idFromPath);
}
