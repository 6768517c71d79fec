// The messages between the command executor (in the agent) and its spawner process: one JSON object
// per line over the spawner's stdin (requests) and stdout (answers and exit notifications). Both ends
// are this package's own code in processes the agent starts, so a line is checked only for its shape.

/** Start a wrapper: what `spawn` needs, plus the sandbox log files to open in append mode for it. */
export interface SpawnRequest {
  op: 'spawn';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** The task's user: the wrapper runs as it, and the log files it gets are its own. */
  uid?: number;
  gid?: number;
  stdoutPath: string;
  stderrPath: string;
}

/** Let a spawned wrapper run its program: write the line to its fd-3 gate and close it. */
export interface ReleaseRequest {
  op: 'release';
  id: number;
}

export type SpawnerRequest = SpawnRequest | ReleaseRequest;

export type SpawnerMessage =
  | { op: 'spawned'; id: number; pid: number }
  /** A spawn or a release failed; `code` is the errno name when there is one (ENOENT, EACCES…). */
  | { op: 'failed'; id: number; message: string; code?: string }
  | { op: 'released'; id: number }
  /** The spawner reaped the wrapper. */
  | { op: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null };

export function encodeLine(message: SpawnerRequest | SpawnerMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** Splits a byte stream into lines; a line may arrive in pieces, and many in one chunk. */
export class LineSplitter {
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let text = this.rest + chunk;
    let newline = text.indexOf('\n');
    while (newline >= 0) {
      const line = text.slice(0, newline);
      if (line !== '') this.onLine(line);
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    this.rest = text;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request line as the spawner reads it; undefined for anything else. */
export function parseRequest(line: string): SpawnerRequest | undefined {
  const value: unknown = JSON.parse(line);
  if (!isRecord(value) || typeof value.id !== 'number') return undefined;
  if (value.op === 'release') return { op: 'release', id: value.id };
  if (
    value.op === 'spawn' &&
    typeof value.file === 'string' &&
    Array.isArray(value.args) &&
    typeof value.cwd === 'string' &&
    isRecord(value.env) &&
    typeof value.stdoutPath === 'string' &&
    typeof value.stderrPath === 'string'
  ) {
    return value as unknown as SpawnRequest;
  }
  return undefined;
}

/** A message line as the executor reads it; undefined for anything else. */
export function parseMessage(line: string): SpawnerMessage | undefined {
  const value: unknown = JSON.parse(line);
  if (!isRecord(value) || typeof value.id !== 'number') return undefined;
  switch (value.op) {
    case 'spawned':
      return typeof value.pid === 'number' ? { op: 'spawned', id: value.id, pid: value.pid } : undefined;
    case 'failed':
      return typeof value.message === 'string'
        ? { op: 'failed', id: value.id, message: value.message, ...(typeof value.code === 'string' ? { code: value.code } : {}) }
        : undefined;
    case 'released':
      return { op: 'released', id: value.id };
    case 'exit':
      return {
        op: 'exit',
        id: value.id,
        code: typeof value.code === 'number' ? value.code : null,
        signal: typeof value.signal === 'string' ? (value.signal as NodeJS.Signals) : null,
      };
    default:
      return undefined;
  }
}
