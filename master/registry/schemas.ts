// ajv schemas of what a registry stores, shared by every registry backend.
import type { JSONSchemaType } from 'ajv';
import { agentInfoSchema, taskSubmissionSchema } from '../../common/index.js';
import type { AdmittedAgent, FrameworkRecord, TaskRecord } from './registry.js';

export const admittedAgentSchema: JSONSchemaType<AdmittedAgent> = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1 },
    info: agentInfoSchema,
    registered_at: { type: 'number' },
  },
  required: ['id', 'info', 'registered_at'],
  additionalProperties: false,
};

export const taskRecordSchema: JSONSchemaType<TaskRecord> = {
  type: 'object',
  properties: {
    task_id: { type: 'string', minLength: 1 },
    submission: taskSubmissionSchema,
    submitted_at: { type: 'number' },
    agent_id: { type: 'string', minLength: 1, nullable: true },
  },
  required: ['task_id', 'submission', 'submitted_at'],
  additionalProperties: false,
};

export const frameworkRecordSchema: JSONSchemaType<FrameworkRecord> = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1 },
    name: { type: 'string' },
    user: { type: 'string' },
    role: { type: 'string', minLength: 1 },
    principal: { type: 'string', nullable: true },
    failover_timeout: { type: 'number', minimum: 0 },
    hostname: { type: 'string', nullable: true },
    webui_url: { type: 'string', nullable: true },
    registered_at: { type: 'number' },
  },
  required: ['id', 'name', 'user', 'role', 'failover_timeout', 'registered_at'],
  additionalProperties: false,
};
