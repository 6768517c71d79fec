// A job as the API accepts it (Chronos's field names), its validation and its normalized stored form.
// Structure is checked by ajv; meaning (schedule syntax, zone, epsilon, URLs) by hand, each error naming
// its field. Chronos fields Tessera does not use (async, softError, owner…) are accepted and kept.
import type { JSONSchemaType } from 'ajv';
import { ValidationError, compileValidator } from '../../common/index.js';
import { approximateMs, parseDuration } from './iso8601.js';
import { parseSchedule, type Schedule } from './schedule.js';

export interface JobContainer {
  type: 'DOCKER' | 'MESOS';
  image: string;
  network?: 'HOST' | 'BRIDGE' | 'NONE';
  forcePullImage?: boolean;
}

export interface JobEnvironmentVariable {
  name: string;
  value: string;
}

/** The request body of POST /v1/scheduler/iso8601 and /v1/scheduler/dependency. */
export interface JobBody {
  name: string;
  command: string;
  shell?: boolean;
  arguments?: string[];
  schedule?: string;
  scheduleTimeZone?: string;
  parents?: string[];
  epsilon?: string;
  retries?: number;
  cpus?: number;
  mem?: number;
  disk?: number;
  disabled?: boolean;
  container?: JobContainer;
  environmentVariables?: JobEnvironmentVariable[];
  runAsUser?: string;
  owner?: string;
  ownerName?: string;
  description?: string;
  /** Tessera's own: POSTed JSON when a run succeeds / fails for good (Chronos has only a global hook). */
  successWebhook?: string;
  failureWebhook?: string;
}

/** What is stored under `jobs/<name>`: defaults filled in. */
export interface JobDefinition extends JobBody {
  shell: boolean;
  epsilon: string;
  retries: number;
  cpus: number;
  mem: number;
  disabled: boolean;
}

export const JOB_DEFAULTS = { shell: true, epsilon: 'PT60S', retries: 2, cpus: 0.1, mem: 128, disabled: false } as const;

const optionalString = { type: 'string', nullable: true } as const;

const jobBodySchema: JSONSchemaType<JobBody> = {
  type: 'object',
  required: ['name', 'command'],
  additionalProperties: true,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^(?!\\.{1,2}$)[A-Za-z0-9_.-]+$' },
    command: { type: 'string' },
    shell: { type: 'boolean', nullable: true },
    arguments: { type: 'array', items: { type: 'string' }, nullable: true },
    schedule: { type: 'string', minLength: 1, nullable: true },
    scheduleTimeZone: { type: 'string', minLength: 1, nullable: true },
    parents: { type: 'array', items: { type: 'string', minLength: 1 }, nullable: true },
    epsilon: optionalString,
    retries: { type: 'integer', minimum: 0, maximum: 100, nullable: true },
    cpus: { type: 'number', exclusiveMinimum: 0, nullable: true },
    mem: { type: 'number', exclusiveMinimum: 0, nullable: true },
    disk: { type: 'number', minimum: 0, nullable: true },
    disabled: { type: 'boolean', nullable: true },
    container: {
      type: 'object',
      nullable: true,
      required: ['type', 'image'],
      additionalProperties: true,
      properties: {
        type: { type: 'string', enum: ['DOCKER', 'MESOS'] },
        image: { type: 'string', minLength: 1 },
        network: { type: 'string', enum: ['HOST', 'BRIDGE', 'NONE'], nullable: true },
        forcePullImage: { type: 'boolean', nullable: true },
      },
    },
    environmentVariables: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        required: ['name', 'value'],
        additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1 }, value: { type: 'string' } },
      },
    },
    runAsUser: optionalString,
    owner: optionalString,
    ownerName: optionalString,
    description: optionalString,
    successWebhook: optionalString,
    failureWebhook: optionalString,
  },
};

const checkBody = compileValidator(jobBodySchema);

export type JobKind = 'scheduled' | 'dependent';

/**
 * Validates a body on its own (the graph checks — known parents, no cycles — are dependency-graph.ts's).
 * `kind` is what the endpoint expects: iso8601 needs `schedule`, dependency needs `parents`.
 */
export function validateJob(body: unknown, kind: JobKind): JobDefinition {
  const b = checkBody(body);
  if (b.command.trim() === '' && b.container === undefined) throw new ValidationError('command', 'must not be empty');
  if (kind === 'scheduled') {
    if (b.schedule === undefined) throw new ValidationError('schedule', 'is required (ISO 8601 R[n]/start/period or a cron expression)');
    if (b.parents !== undefined && b.parents.length > 0) {
      throw new ValidationError('parents', 'a scheduled job has no parents; POST it to /v1/scheduler/dependency instead');
    }
  } else {
    if (b.parents === undefined || b.parents.length === 0) throw new ValidationError('parents', 'is required: at least one parent job');
    if (b.schedule !== undefined) throw new ValidationError('schedule', 'a dependent job has no schedule; it runs after its parents');
    const seen = new Set<string>();
    b.parents.forEach((p, i) => {
      if (p === b.name) throw new ValidationError(`parents[${i}]`, `a job cannot depend on itself`);
      if (seen.has(p)) throw new ValidationError(`parents[${i}]`, `'${p}' is listed twice`);
      seen.add(p);
    });
  }
  if (b.schedule !== undefined) parseSchedule(b.schedule, b.scheduleTimeZone);
  else if (b.scheduleTimeZone !== undefined) parseSchedule('R/2000-01-01T00:00:00Z/PT1H', b.scheduleTimeZone);
  const epsilon = b.epsilon ?? JOB_DEFAULTS.epsilon;
  parseDuration(epsilon, 'epsilon');
  for (const field of ['successWebhook', 'failureWebhook'] as const) {
    const url = b[field];
    if (url !== undefined && !isHttpUrl(url)) throw new ValidationError(field, `'${url}' is not an http(s) URL`);
  }
  return {
    ...b,
    shell: b.shell ?? JOB_DEFAULTS.shell,
    epsilon,
    retries: b.retries ?? JOB_DEFAULTS.retries,
    cpus: b.cpus ?? JOB_DEFAULTS.cpus,
    mem: b.mem ?? JOB_DEFAULTS.mem,
    disabled: b.disabled ?? JOB_DEFAULTS.disabled,
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export function jobSchedule(job: JobDefinition): Schedule | undefined {
  return job.schedule === undefined ? undefined : parseSchedule(job.schedule, job.scheduleTimeZone);
}

export function epsilonMs(job: JobDefinition): number {
  return approximateMs(parseDuration(job.epsilon, 'epsilon'));
}
