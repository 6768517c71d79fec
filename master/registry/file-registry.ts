// Registry in one JSON file, replaced atomically: write a temp file, fsync it, rename it over the old
// one, fsync the directory. A crash leaves either the old or the new file, never half of one.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONSchemaType } from 'ajv';
import { compileValidator, errorMessage, writeFileAtomic, type Validator } from '../../common/index.js';
import { RegistryError } from '../errors.js';
import { emptyRegistryState, type Registry, type RegistryState, type TaskRecord } from './registry.js';
import { admittedAgentSchema, frameworkRecordSchema, taskRecordSchema } from './schemas.js';

const FORMAT_VERSION = 2;

/** `frameworks` came with the scheduler API; a format-2 file without it has none. */
interface RegistryFile extends Omit<RegistryState, 'frameworks'> {
  version: typeof FORMAT_VERSION;
  frameworks?: RegistryState['frameworks'];
}

/** Version 1 (first slice) kept only waiting submissions; they load as tasks without an agent. */
interface RegistryFileV1 {
  version: 1;
  agents: RegistryState['agents'];
  pending: TaskRecord[];
}

const registryFileSchema: JSONSchemaType<RegistryFile> = {
  type: 'object',
  properties: {
    version: { type: 'integer', const: FORMAT_VERSION },
    agents: { type: 'array', items: admittedAgentSchema },
    tasks: { type: 'array', items: taskRecordSchema },
    frameworks: { type: 'array', items: frameworkRecordSchema, nullable: true },
  },
  required: ['version', 'agents', 'tasks'],
  additionalProperties: false,
};

const registryFileV1Schema: JSONSchemaType<RegistryFileV1> = {
  type: 'object',
  properties: {
    version: { type: 'integer', const: 1 },
    agents: { type: 'array', items: admittedAgentSchema },
    pending: { type: 'array', items: taskRecordSchema },
  },
  required: ['version', 'agents', 'pending'],
  additionalProperties: false,
};

let validateV1: Validator<RegistryFileV1> | undefined;
let validateFile: Validator<RegistryFile> | undefined;

export class FileRegistry implements Registry {
  readonly path: string;
  /** Saves run one after another so two renames never race. */
  private chain: Promise<void> = Promise.resolve();

  private constructor(readonly dir: string) {
    this.path = join(dir, 'registry.json');
  }

  /** Uses `<workDir>/master/registry.json`, creating the directory. */
  static async create(options: { workDir: string }): Promise<FileRegistry> {
    const dir = join(options.workDir, 'master');
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new RegistryError(`cannot create ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    return new FileRegistry(dir);
  }

  async load(): Promise<RegistryState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRegistryState();
      throw new RegistryError(`cannot read ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      // Never start with an empty registry over a damaged one: that would forget admitted agents.
      throw new RegistryError(`${this.path} is not valid JSON: ${errorMessage(err)}`, { cause: err });
    }
    try {
      if (isVersion1(parsed)) {
        validateV1 ??= compileValidator(registryFileV1Schema);
        const old = validateV1(parsed);
        return { agents: old.agents, tasks: old.pending, frameworks: [] };
      }
      validateFile ??= compileValidator(registryFileSchema);
      const file = validateFile(parsed);
      return { agents: file.agents, tasks: file.tasks, frameworks: file.frameworks ?? [] };
    } catch (err) {
      throw new RegistryError(`${this.path} is not a registry: ${errorMessage(err)}`, { cause: err });
    }
  }

  save(state: RegistryState): Promise<void> {
    const run = this.chain.then(() => this.write(state));
    // Keep the chain alive after a failure; the caller still sees it through `run`.
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(state: RegistryState): Promise<void> {
    const file: RegistryFile = { version: FORMAT_VERSION, agents: state.agents, tasks: state.tasks, frameworks: state.frameworks };
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`);
    } catch (err) {
      throw new RegistryError(`cannot write ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

function isVersion1(parsed: unknown): boolean {
  return typeof parsed === 'object' && parsed !== null && (parsed as { version?: unknown }).version === 1;
}
