// The state of a single framework instance without ZooKeeper (`tessera up`, tests): one JSON file,
// rewritten atomically (temp file + fsync + rename) on every change, so it holds the old state or
// the new, never half of either.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../common/index.js';
import { RuntimeError } from './errors.js';
import { keySegments, parseValue, serializeValue, type StateStore } from './state-store.js';

interface StateFile {
  version: 1;
  /** key → JSON value. */
  entries: Record<string, unknown>;
}

export class FileStateStore implements StateStore {
  /** key → the value's JSON text (so callers never share objects with the store). */
  private entries: Map<string, string>;
  /** Changes run one at a time, each with its write to disk. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    entries: Map<string, string>,
  ) {
    this.entries = entries;
  }

  /** Loads `file` (missing: empty state); its directory is created. */
  static async open(file: string): Promise<FileStateStore> {
    await mkdir(path.dirname(file), { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new RuntimeError('STORE_FAILED', `cannot read the framework state ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    const entries = new Map<string, string>();
    if (text !== undefined) {
      const parsed = parseValue<Partial<StateFile>>('*', file, text);
      if (parsed.version !== 1 || typeof parsed.entries !== 'object' || parsed.entries === null) {
        throw new RuntimeError('STATE_CORRUPT', `${file} is not a framework state file (expected {"version":1,"entries":{…}})`);
      }
      for (const [key, value] of Object.entries(parsed.entries)) entries.set(key, JSON.stringify(value));
    }
    return new FileStateStore(file, entries);
  }

  async get<T>(key: string): Promise<T | undefined> {
    keySegments(key);
    const text = this.entries.get(key);
    return text === undefined ? undefined : parseValue<T>(key, this.file, text);
  }

  async put(key: string, value: unknown): Promise<void> {
    keySegments(key);
    const text = serializeValue(key, value);
    await this.change(key, (next) => next.set(key, text));
  }

  async delete(key: string): Promise<void> {
    keySegments(key);
    if (!this.entries.has(key)) return;
    await this.change(key, (next) => next.delete(key));
  }

  async list(prefix: string): Promise<string[]> {
    const segments = keySegments(prefix, true);
    const base = segments.join('/');
    return [...this.entries.keys()].filter((key) => base === '' || key.startsWith(`${base}/`)).sort();
  }

  /** Refuses further changes once those under way are on disk. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
  }

  /** Applies `edit` to a copy, writes the copy, and only then makes it the state: a failed write changes nothing. */
  private change(key: string, edit: (next: Map<string, string>) => void): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) throw new RuntimeError('NOT_LEADING', `cannot write state key '${key}': the framework instance was closed`);
      const next = new Map(this.entries);
      edit(next);
      const file: StateFile = { version: 1, entries: {} };
      for (const k of [...next.keys()].sort()) file.entries[k] = JSON.parse(next.get(k) ?? 'null') as unknown;
      try {
        await writeFileAtomic(this.file, `${JSON.stringify(file, null, 1)}\n`);
      } catch (err) {
        throw new RuntimeError('STORE_FAILED', `cannot write the framework state ${this.file}: ${(err as Error).message}`, { cause: err, retryable: true });
      }
      this.entries = next;
    };
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
