// ajv schemas for every body that crosses the wire. Typed as JSONSchemaType<T>, so a schema that
// disagrees with its type in types.ts or protocol.ts fails to compile.
import type { JSONSchemaType } from 'ajv';
import { TASK_REASONS, TASK_STATES } from './task-state.js';
import type {
  AgentAttributes,
  AgentInfo,
  AgentTaskReport,
  HealthCheck,
  CommandInfo,
  ContainerInfo,
  Resources,
  TaskInfo,
  TaskStatus,
  TaskSubmission,
} from './types.js';
import type {
  KillRequest,
  LaunchRequest,
  RegisterRequest,
  StatusUpdateBatchRequest,
  StatusUpdateRequest,
} from './protocol.js';
import { MAX_STATUS_UPDATE_BATCH } from './protocol.js';

/** Upper bounds that no real host reaches: above them a request is a typo, not a wish. */
export const RESOURCE_LIMITS = {
  cpus: { min: 0.01, max: 4096 },
  mem: { min: 4, max: 64 * 1024 * 1024 },
  disk: { min: 0, max: 1024 * 1024 * 1024 },
  pids: { min: 16, max: 4194304 },
} as const;

const ID_PATTERN = '^[A-Za-z0-9_.:@-]{1,200}$';

export const resourcesSchema: JSONSchemaType<Resources> = {
  type: 'object',
  properties: {
    cpus: { type: 'number', minimum: RESOURCE_LIMITS.cpus.min, maximum: RESOURCE_LIMITS.cpus.max },
    mem: { type: 'number', minimum: RESOURCE_LIMITS.mem.min, maximum: RESOURCE_LIMITS.mem.max },
    disk: { type: 'number', nullable: true, minimum: RESOURCE_LIMITS.disk.min, maximum: RESOURCE_LIMITS.disk.max },
    ports: {
      type: 'array',
      nullable: true,
      maxItems: 1024,
      items: {
        type: 'object',
        properties: {
          begin: { type: 'integer', minimum: 1, maximum: 65535 },
          end: { type: 'integer', minimum: 1, maximum: 65535 },
        },
        required: ['begin', 'end'],
        additionalProperties: false,
      },
    },
    pids: { type: 'integer', nullable: true, minimum: RESOURCE_LIMITS.pids.min, maximum: RESOURCE_LIMITS.pids.max },
  },
  required: ['cpus', 'mem'],
  additionalProperties: false,
};

export const commandSchema: JSONSchemaType<CommandInfo> = {
  type: 'object',
  properties: {
    shell: { type: 'boolean', nullable: true },
    value: { type: 'string', nullable: true, minLength: 1, maxLength: 65536 },
    arguments: { type: 'array', nullable: true, items: { type: 'string', maxLength: 65536 }, maxItems: 4096 },
    environment: {
      type: 'object',
      nullable: true,
      properties: {
        variables: {
          type: 'array',
          maxItems: 4096,
          items: {
            type: 'object',
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
              value: { type: 'string', maxLength: 65536 },
            },
            required: ['name', 'value'],
            additionalProperties: false,
          },
        },
      },
      required: ['variables'],
      additionalProperties: false,
    },
    user: { type: 'string', nullable: true, minLength: 1, maxLength: 64 },
  },
  required: [],
  additionalProperties: false,
};

export const containerSchema: JSONSchemaType<ContainerInfo> = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['DOCKER', 'MESOS'] },
    docker: {
      type: 'object',
      nullable: true,
      properties: {
        // Docker reference grammar, loosely: lower-case repository, optional registry, tag and digest.
        image: {
          type: 'string',
          minLength: 1,
          maxLength: 512,
          pattern: '^[a-z0-9]+([._/:@-][A-Za-z0-9]+)*$',
        },
        network: { type: 'string', nullable: true, enum: ['HOST', 'BRIDGE', 'NONE'] },
        force_pull_image: { type: 'boolean', nullable: true },
      },
      required: ['image'],
      additionalProperties: false,
    },
  },
  required: ['type'],
  additionalProperties: false,
  // A DOCKER container must say which image.
  if: { properties: { type: { const: 'DOCKER' } } },
  then: { required: ['docker'] },
} as JSONSchemaType<ContainerInfo>;

/** Longest any health check timing may be (a day): beyond it a value is a typo. */
export const HEALTH_CHECK_MAX_SECONDS = 86_400;

const healthSeconds = { type: 'number', nullable: true, minimum: 0, maximum: HEALTH_CHECK_MAX_SECONDS } as const;
const probePort = { type: 'integer', minimum: 1, maximum: 65535 } as const;

export const healthCheckSchema: JSONSchemaType<HealthCheck> = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['COMMAND', 'HTTP', 'TCP'] },
    command: { ...commandSchema, nullable: true },
    http: {
      type: 'object',
      nullable: true,
      properties: {
        port: probePort,
        path: { type: 'string', nullable: true, maxLength: 4096 },
        scheme: { type: 'string', nullable: true, enum: ['http', 'https'] },
      },
      required: ['port'],
      additionalProperties: false,
    },
    tcp: { type: 'object', nullable: true, properties: { port: probePort }, required: ['port'], additionalProperties: false },
    delay_seconds: healthSeconds,
    interval_seconds: healthSeconds,
    timeout_seconds: healthSeconds,
    consecutive_failures: { type: 'integer', nullable: true, minimum: 0, maximum: 1_000_000 },
    grace_period_seconds: healthSeconds,
  },
  required: ['type'],
  additionalProperties: false,
  // Each type needs its own sub-message; a COMMAND check needs something to run.
  allOf: [
    {
      if: { properties: { type: { const: 'COMMAND' } } },
      then: { required: ['command'], properties: { command: { required: ['value'] } } },
    },
    { if: { properties: { type: { const: 'HTTP' } } }, then: { required: ['http'] } },
    { if: { properties: { type: { const: 'TCP' } } }, then: { required: ['tcp'] } },
  ],
} as JSONSchemaType<HealthCheck>;

export const taskSubmissionSchema: JSONSchemaType<TaskSubmission> = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
    resources: resourcesSchema,
    command: { ...commandSchema, nullable: true },
    container: { ...containerSchema, nullable: true },
    kill_grace_period_seconds: { type: 'number', nullable: true, minimum: 0, maximum: 3600 },
  },
  required: ['name', 'resources'],
  additionalProperties: false,
};

export const taskInfoSchema: JSONSchemaType<TaskInfo> = {
  type: 'object',
  properties: {
    task_id: { type: 'string', pattern: ID_PATTERN },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    agent_id: { type: 'string', pattern: ID_PATTERN },
    framework_id: { type: 'string', nullable: true, pattern: ID_PATTERN },
    resources: resourcesSchema,
    command: { ...commandSchema, nullable: true },
    container: { ...containerSchema, nullable: true },
    kill_grace_period_seconds: { type: 'number', nullable: true, minimum: 0, maximum: 3600 },
    framework_task_id: { type: 'string', nullable: true, pattern: ID_PATTERN },
    health_check: { ...healthCheckSchema, nullable: true },
  },
  required: ['task_id', 'name', 'agent_id', 'resources'],
  additionalProperties: false,
};

export const taskStatusSchema: JSONSchemaType<TaskStatus> = {
  type: 'object',
  properties: {
    task_id: { type: 'string', pattern: ID_PATTERN },
    agent_id: { type: 'string', nullable: true, pattern: ID_PATTERN },
    state: { type: 'string', enum: [...TASK_STATES] },
    reason: { type: 'string', nullable: true, enum: [...TASK_REASONS] },
    message: { type: 'string', nullable: true },
    source: { type: 'string', enum: ['SOURCE_MASTER', 'SOURCE_AGENT', 'SOURCE_EXECUTOR'] },
    timestamp: { type: 'number' },
    uuid: { type: 'string', minLength: 1, maxLength: 100 },
    container_status: {
      type: 'object',
      nullable: true,
      properties: {
        container_id: { type: 'string', nullable: true },
        exit_code: { type: 'integer', nullable: true },
      },
      required: [],
      additionalProperties: false,
    },
    healthy: { type: 'boolean', nullable: true },
  },
  required: ['task_id', 'state', 'source', 'timestamp', 'uuid'],
  additionalProperties: false,
};

/** Mesos attribute names: no separators of the `--attributes` syntax, no spaces. */
export const ATTRIBUTE_NAME_PATTERN = '^[A-Za-z0-9_./-]{1,128}$';

export const agentAttributesSchema: JSONSchemaType<AgentAttributes> = {
  type: 'object',
  required: [],
  maxProperties: 128,
  propertyNames: { type: 'string', pattern: ATTRIBUTE_NAME_PATTERN },
  additionalProperties: { anyOf: [{ type: 'string', maxLength: 1024 }, { type: 'number' }] },
} as unknown as JSONSchemaType<AgentAttributes>; // JSONSchemaType cannot express a string|number record.

export const agentInfoSchema: JSONSchemaType<AgentInfo> = {
  type: 'object',
  properties: {
    hostname: { type: 'string', minLength: 1, maxLength: 255 },
    ip: { type: 'string', minLength: 1, maxLength: 64 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    resources: resourcesSchema,
    executors: { type: 'array', items: { type: 'string' }, maxItems: 16 },
    isolation: { type: 'string' },
    attributes: { ...agentAttributesSchema, nullable: true },
  },
  required: ['hostname', 'ip', 'port', 'resources', 'executors', 'isolation'],
  additionalProperties: false,
};

const agentTaskReportSchema: JSONSchemaType<AgentTaskReport> = {
  type: 'object',
  properties: { task: taskInfoSchema, status: taskStatusSchema },
  required: ['task', 'status'],
  additionalProperties: false,
};

export const registerRequestSchema: JSONSchemaType<RegisterRequest> = {
  type: 'object',
  properties: {
    agent_id: { type: 'string', nullable: true, pattern: ID_PATTERN },
    info: agentInfoSchema,
    tasks: { type: 'array', items: agentTaskReportSchema },
  },
  required: ['info', 'tasks'],
  additionalProperties: false,
};

export const statusUpdateRequestSchema: JSONSchemaType<StatusUpdateRequest> = {
  type: 'object',
  properties: { update: taskStatusSchema },
  required: ['update'],
  additionalProperties: false,
};

export const statusUpdateBatchRequestSchema: JSONSchemaType<StatusUpdateBatchRequest> = {
  type: 'object',
  properties: { updates: { type: 'array', items: taskStatusSchema, minItems: 1, maxItems: MAX_STATUS_UPDATE_BATCH } },
  required: ['updates'],
  additionalProperties: false,
};

export const launchRequestSchema: JSONSchemaType<LaunchRequest> = {
  type: 'object',
  properties: { task: taskInfoSchema },
  required: ['task'],
  additionalProperties: false,
};

export const killRequestSchema: JSONSchemaType<KillRequest> = {
  type: 'object',
  properties: { grace_period_seconds: { type: 'number', nullable: true, minimum: 0, maximum: 3600 } },
  required: [],
  additionalProperties: false,
};
