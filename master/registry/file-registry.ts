// Registry in one JSON file, replaced atomically: write a temp file, fsync it, rename it over the old
// one, fsync the directory. A crash leaves either the old or the new file, never half of one.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONSchemaType } from 'ajv';
import {
  agentInfoSchema,
  compileValidator,
  errorMessage,
  taskSubmissionSchema,
  writeFileAtomic,
  type Validator,
} from '../../common/index.js';
import { RegistryError } from '../errors.js';
import { emptyRegistryState, type Registry, type RegistryState } from './registry.js';

const FORMAT_VERSION = 1;

interface RegistryFile extends RegistryState {
  version: number;
}

const registryFileSchema: JSONSchemaType<RegistryFile> = {
  type: 'object',
  properties: {
    version: { type: 'integer', const: FORMAT_VERSION },
    agents: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', minLength: 1 },
          info: agentInfoSchema,
          registered_at: { type: 'number' },
        },
        required: ['id', 'info', 'registered_at'],
        additionalProperties: false,
      },
    },
    pending: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          task_id: { type: 'string', minLength: 1 },
          submission: taskSubmissionSchema,
          submitted_at: { type: 'number' },
        },
        required: ['task_id', 'submission', 'submitted_at'],
        additionalProperties: false,
      },
    },
  },
  required: ['version', 'agents', 'pending'],
  additionalProperties: false,
};

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
    validateFile ??= compileValidator(registryFileSchema);
    try {
      const file = validateFile(parsed);
      return { agents: file.agents, pending: file.pending };
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
    const file: RegistryFile = { version: FORMAT_VERSION, agents: state.agents, pending: state.pending };
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`);
    } catch (err) {
      throw new RegistryError(`cannot write ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
