// ajv schemas of the scheduler calls, typed as JSONSchemaType of mesos-types.ts so the two cannot drift.
// Structure only: semantic checks of task infos (ids, resources, what is unsupported) live in convert.ts.
// Unknown fields are allowed (and ignored), as Mesos's JSON parser ignores them.
import {
  HEALTH_CHECK_MAX_SECONDS,
  type MesosResource,
  type AcceptCall,
  type AcknowledgeCall,
  type DeclineCall,
  type KillCall,
  type MesosCommandInfo,
  type MesosContainerInfo,
  type MesosDurationInfo,
  type MesosFilters,
  type MesosFrameworkInfo,
  type MesosHealthCheck,
  type MesosId,
  type MesosKillPolicy,
  type MesosLabels,
  type MesosOperation,
  type MesosReconcileTask,
  type MesosTaskInfo,
  type ReconcileCall,
  type ReviveCall,
  type SubscribeCall,
  type SuppressCall,
  type TeardownCall,
} from '../../common/index.js';
import type { JSONSchemaType } from 'ajv';

/** Bounds no sane framework reaches; the request body limit (4 MB) bounds the rest. */
const MAX_ID = 1024;
const MAX_LIST = 10_000;
const MAX_STRING = 65_536;

export const mesosIdSchema: JSONSchemaType<MesosId> = {
  type: 'object',
  properties: { value: { type: 'string', minLength: 1, maxLength: MAX_ID } },
  required: ['value'],
};

const optionalId = { ...mesosIdSchema, nullable: true } as const;

const roleList: JSONSchemaType<string[]> = {
  type: 'array',
  maxItems: 1024,
  items: { type: 'string', minLength: 1, maxLength: 255 },
};

const labelsSchema: JSONSchemaType<MesosLabels> = {
  type: 'object',
  properties: {
    labels: {
      type: 'array',
      maxItems: MAX_LIST,
      items: {
        type: 'object',
        properties: { key: { type: 'string' }, value: { type: 'string', nullable: true } },
        required: ['key'],
      },
    },
  },
  required: ['labels'],
};

export const frameworkInfoSchema: JSONSchemaType<MesosFrameworkInfo> = {
  type: 'object',
  properties: {
    user: { type: 'string', maxLength: 255 },
    name: { type: 'string', maxLength: 1024 },
    id: optionalId,
    failover_timeout: { type: 'number', nullable: true, minimum: 0 },
    checkpoint: { type: 'boolean', nullable: true },
    role: { type: 'string', nullable: true, minLength: 1, maxLength: 255 },
    roles: { ...roleList, nullable: true },
    hostname: { type: 'string', nullable: true, maxLength: 255 },
    principal: { type: 'string', nullable: true, maxLength: 255 },
    webui_url: { type: 'string', nullable: true, maxLength: 4096 },
    capabilities: {
      type: 'array',
      nullable: true,
      maxItems: 64,
      items: { type: 'object', properties: { type: { type: 'string' } }, required: ['type'] },
    },
    labels: { ...labelsSchema, nullable: true },
  },
  required: ['user', 'name'],
};

const filtersSchema: JSONSchemaType<MesosFilters> = {
  type: 'object',
  properties: { refuse_seconds: { type: 'number', nullable: true } },
};

const durationSchema = {
  type: 'object',
  properties: {
    // int64: a JSON number, or the decimal string the proto3 JSON mapping writes for 64-bit integers.
    nanoseconds: { type: ['number', 'string'], pattern: '^-?[0-9]{1,19}$' },
  },
  required: ['nanoseconds'],
  // JSONSchemaType cannot express a number|string union; the shape is checked by the tests.
} as unknown as JSONSchemaType<MesosDurationInfo>;

const killPolicySchema: JSONSchemaType<MesosKillPolicy> = {
  type: 'object',
  properties: { grace_period: { ...durationSchema, nullable: true } },
};

export const mesosResourceSchema: JSONSchemaType<MesosResource> = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    type: { type: 'string', enum: ['SCALAR', 'RANGES', 'SET'] },
    scalar: {
      type: 'object',
      nullable: true,
      properties: { value: { type: 'number' } },
      required: ['value'],
    },
    ranges: {
      type: 'object',
      nullable: true,
      properties: {
        range: {
          type: 'array',
          maxItems: MAX_LIST,
          items: {
            type: 'object',
            properties: { begin: { type: 'integer' }, end: { type: 'integer' } },
            required: ['begin', 'end'],
          },
        },
      },
      required: ['range'],
    },
    set: {
      type: 'object',
      nullable: true,
      properties: { item: { type: 'array', maxItems: MAX_LIST, items: { type: 'string' } } },
      required: ['item'],
    },
    role: { type: 'string', nullable: true },
    allocation_info: {
      type: 'object',
      nullable: true,
      properties: { role: { type: 'string' } },
      required: ['role'],
    },
  },
  required: ['name', 'type'],
};

const commandSchema: JSONSchemaType<MesosCommandInfo> = {
  type: 'object',
  properties: {
    shell: { type: 'boolean', nullable: true },
    value: { type: 'string', nullable: true, maxLength: MAX_STRING },
    arguments: { type: 'array', nullable: true, maxItems: 4096, items: { type: 'string', maxLength: MAX_STRING } },
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
              name: { type: 'string', minLength: 1, maxLength: 1024 },
              type: { type: 'string', nullable: true },
              value: { type: 'string', nullable: true, maxLength: MAX_STRING },
            },
            required: ['name'],
          },
        },
      },
      required: ['variables'],
    },
    user: { type: 'string', nullable: true, maxLength: 255 },
    uris: {
      type: 'array',
      nullable: true,
      maxItems: 1024,
      items: {
        type: 'object',
        properties: {
          value: { type: 'string' },
          executable: { type: 'boolean', nullable: true },
          extract: { type: 'boolean', nullable: true },
          cache: { type: 'boolean', nullable: true },
          output_file: { type: 'string', nullable: true },
        },
        required: ['value'],
      },
    },
  },
};

const containerSchema: JSONSchemaType<MesosContainerInfo> = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: ['DOCKER', 'MESOS'] },
    docker: {
      type: 'object',
      nullable: true,
      properties: {
        image: { type: 'string', minLength: 1, maxLength: 1024 },
        network: { type: 'string', nullable: true, enum: ['HOST', 'BRIDGE', 'NONE', 'USER'] },
        force_pull_image: { type: 'boolean', nullable: true },
        privileged: { type: 'boolean', nullable: true },
        port_mappings: {
          type: 'array',
          nullable: true,
          maxItems: 1024,
          items: {
            type: 'object',
            properties: {
              host_port: { type: 'integer', minimum: 0, maximum: 65535 },
              container_port: { type: 'integer', minimum: 0, maximum: 65535 },
              protocol: { type: 'string', nullable: true },
            },
            required: ['host_port', 'container_port'],
          },
        },
        parameters: {
          type: 'array',
          nullable: true,
          maxItems: 1024,
          items: {
            type: 'object',
            properties: { key: { type: 'string' }, value: { type: 'string' } },
            required: ['key', 'value'],
          },
        },
      },
      required: ['image'],
    },
    hostname: { type: 'string', nullable: true, maxLength: 255 },
  },
  required: ['type'],
};

const healthSeconds = { type: 'number', nullable: true, minimum: 0, maximum: HEALTH_CHECK_MAX_SECONDS } as const;
const probePort = { type: 'integer', minimum: 1, maximum: 65535 } as const;

/** HealthCheck (mesos.proto). Seconds are doubles, never negative; each type needs its sub-message. */
export const healthCheckSchema: JSONSchemaType<MesosHealthCheck> = {
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
    },
    tcp: { type: 'object', nullable: true, properties: { port: probePort }, required: ['port'] },
    delay_seconds: healthSeconds,
    interval_seconds: healthSeconds,
    timeout_seconds: healthSeconds,
    consecutive_failures: { type: 'integer', nullable: true, minimum: 0, maximum: 1_000_000 },
    grace_period_seconds: healthSeconds,
  },
  required: ['type'],
  allOf: [
    {
      if: { properties: { type: { const: 'COMMAND' } } },
      then: { required: ['command'], properties: { command: { required: ['value'], properties: { value: { minLength: 1 } } } } },
    },
    { if: { properties: { type: { const: 'HTTP' } } }, then: { required: ['http'] } },
    { if: { properties: { type: { const: 'TCP' } } }, then: { required: ['tcp'] } },
  ],
} as JSONSchemaType<MesosHealthCheck>; // if/then is beyond JSONSchemaType; the tests check it.

export const mesosTaskInfoSchema: JSONSchemaType<MesosTaskInfo> = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 1024 },
    task_id: mesosIdSchema,
    agent_id: mesosIdSchema,
    resources: { type: 'array', maxItems: 1024, items: mesosResourceSchema },
    command: { ...commandSchema, nullable: true },
    container: { ...containerSchema, nullable: true },
    kill_policy: { ...killPolicySchema, nullable: true },
    labels: { ...labelsSchema, nullable: true },
    health_check: { ...healthCheckSchema, nullable: true },
  },
  required: ['name', 'task_id', 'agent_id', 'resources'],
};

const operationSchema: JSONSchemaType<MesosOperation> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'LAUNCH' },
    id: optionalId,
    launch: {
      type: 'object',
      properties: { task_infos: { type: 'array', maxItems: MAX_LIST, items: mesosTaskInfoSchema } },
      required: ['task_infos'],
    },
  },
  required: ['type', 'launch'],
};

const offerIds: JSONSchemaType<MesosId[]> = { type: 'array', maxItems: MAX_LIST, items: mesosIdSchema };

const reconcileTaskSchema: JSONSchemaType<MesosReconcileTask> = {
  type: 'object',
  properties: { task_id: mesosIdSchema, agent_id: optionalId },
  required: ['task_id'],
};

// ---- one schema per call type --------------------------------------------------------------------

export const subscribeCallSchema: JSONSchemaType<SubscribeCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'SUBSCRIBE' },
    framework_id: optionalId,
    subscribe: {
      type: 'object',
      properties: {
        framework_info: frameworkInfoSchema,
        suppressed_roles: { ...roleList, nullable: true },
      },
      required: ['framework_info'],
    },
  },
  required: ['type', 'subscribe'],
};

export const teardownCallSchema: JSONSchemaType<TeardownCall> = {
  type: 'object',
  properties: { type: { type: 'string', const: 'TEARDOWN' }, framework_id: mesosIdSchema },
  required: ['type', 'framework_id'],
};

export const acceptCallSchema: JSONSchemaType<AcceptCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'ACCEPT' },
    framework_id: mesosIdSchema,
    accept: {
      type: 'object',
      properties: {
        offer_ids: offerIds,
        operations: { type: 'array', nullable: true, maxItems: MAX_LIST, items: operationSchema },
        filters: { ...filtersSchema, nullable: true },
      },
      required: ['offer_ids'],
    },
  },
  required: ['type', 'framework_id', 'accept'],
};

export const declineCallSchema: JSONSchemaType<DeclineCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'DECLINE' },
    framework_id: mesosIdSchema,
    decline: {
      type: 'object',
      properties: { offer_ids: offerIds, filters: { ...filtersSchema, nullable: true } },
      required: ['offer_ids'],
    },
  },
  required: ['type', 'framework_id', 'decline'],
};

export const reviveCallSchema: JSONSchemaType<ReviveCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'REVIVE' },
    framework_id: mesosIdSchema,
    revive: { type: 'object', nullable: true, properties: { roles: { ...roleList, nullable: true } } },
  },
  required: ['type', 'framework_id'],
};

export const suppressCallSchema: JSONSchemaType<SuppressCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'SUPPRESS' },
    framework_id: mesosIdSchema,
    suppress: { type: 'object', nullable: true, properties: { roles: { ...roleList, nullable: true } } },
  },
  required: ['type', 'framework_id'],
};

export const killCallSchema: JSONSchemaType<KillCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'KILL' },
    framework_id: mesosIdSchema,
    kill: {
      type: 'object',
      properties: { task_id: mesosIdSchema, agent_id: optionalId, kill_policy: { ...killPolicySchema, nullable: true } },
      required: ['task_id'],
    },
  },
  required: ['type', 'framework_id', 'kill'],
};

export const acknowledgeCallSchema: JSONSchemaType<AcknowledgeCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'ACKNOWLEDGE' },
    framework_id: mesosIdSchema,
    acknowledge: {
      type: 'object',
      properties: {
        agent_id: mesosIdSchema,
        task_id: mesosIdSchema,
        // base64 of 16 bytes is 24 characters; uuidFromMesos checks the decoded length.
        uuid: { type: 'string', minLength: 1, maxLength: 64 },
      },
      required: ['agent_id', 'task_id', 'uuid'],
    },
  },
  required: ['type', 'framework_id', 'acknowledge'],
};

export const reconcileCallSchema: JSONSchemaType<ReconcileCall> = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'RECONCILE' },
    framework_id: mesosIdSchema,
    reconcile: {
      type: 'object',
      properties: { tasks: { type: 'array', nullable: true, maxItems: 100_000, items: reconcileTaskSchema } },
    },
  },
  required: ['type', 'framework_id', 'reconcile'],
};
