// The per-task status update log: JSON lines, one per update, one per acknowledgement and one per
// executor handle (written once the task has started; the last one counts), in the order they happened. Appends are fsynced; a crash mid-append leaves a torn last line, which the
// reader drops (that update was never sent: it is checkpointed before sending).
import type { TaskStatus } from '../../common/index.js';
import type { TaskHandle } from '../../executors/index.js';

export type UpdateLogEntry = { update: TaskStatus } | { ack: string } | { handle: TaskHandle };

export interface ParsedUpdateLog {
  updates: TaskStatus[];
  acknowledged: Set<string>;
  /** The last handle line, if the task got that far. */
  handle: TaskHandle | undefined;
  /** Byte length of the intact prefix; anything after it is a torn line to cut off. */
  intactBytes: number;
  tornLine: boolean;
  /** Lines in the middle that could not be parsed (skipped). */
  badLines: number;
}

export function formatEntry(entry: UpdateLogEntry): string {
  return JSON.stringify(entry);
}

export function parseUpdateLog(text: string): ParsedUpdateLog {
  const updates: TaskStatus[] = [];
  const acknowledged = new Set<string>();
  let handle: TaskHandle | undefined;
  let badLines = 0;
  const lastNewline = text.lastIndexOf('\n');
  const intact = lastNewline < 0 ? '' : text.slice(0, lastNewline + 1);
  const tornLine = intact.length < text.length;
  for (const line of intact.split('\n')) {
    if (line.trim() === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      badLines++;
      continue;
    }
    if (isObject(entry) && isObject(entry.update) && typeof entry.update.uuid === 'string') {
      updates.push(entry.update as unknown as TaskStatus);
    } else if (isObject(entry) && typeof entry.ack === 'string') {
      acknowledged.add(entry.ack);
    } else if (isObject(entry) && isObject(entry.handle) && typeof entry.handle.kind === 'string') {
      handle = entry.handle as unknown as TaskHandle;
    } else {
      badLines++;
    }
  }
  return { updates, acknowledged, handle, intactBytes: Buffer.byteLength(intact, 'utf8'), tornLine, badLines };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
