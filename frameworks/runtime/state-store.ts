// What both frameworks keep: JSON values under '/'-separated keys ('apps/web', 'jobs/nightly').
import { RuntimeError } from './errors.js';

export interface StateStore {
  /** undefined when the key has no value. */
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  /** Deleting a key that has no value is fine. */
  delete(key: string): Promise<void>;
  /** Every key strictly below `prefix` ('' = every key), at any depth, sorted. */
  list(prefix: string): Promise<string[]>;
}

const MAX_KEY_LENGTH = 1024;

/** The key's segments; throws BAD_KEY naming what is wrong. `allowEmpty` for list('') (the root). */
export function keySegments(key: string, allowEmpty = false): string[] {
  if (typeof key !== 'string') throw new RuntimeError('BAD_KEY', `a state key must be a string, not ${typeof key}`);
  const trimmed = allowEmpty ? key.replace(/\/+$/, '') : key;
  if (trimmed === '') {
    if (allowEmpty) return [];
    throw new RuntimeError('BAD_KEY', 'a state key may not be empty');
  }
  if (trimmed.length > MAX_KEY_LENGTH) throw new RuntimeError('BAD_KEY', `state key '${trimmed.slice(0, 40)}…' is longer than ${MAX_KEY_LENGTH} characters`);
  const segments = trimmed.split('/');
  if (segments.some((s) => s === '')) throw new RuntimeError('BAD_KEY', `state key '${trimmed}' has an empty segment (leading, trailing or double '/')`);
  if (segments.some((s) => s === '.' || s === '..')) throw new RuntimeError('BAD_KEY', `state key '${trimmed}' may not contain . or .. segments`);
  return segments;
}

/** JSON text of a value to store; throws BAD_VALUE for what JSON cannot hold. */
export function serializeValue(key: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new RuntimeError('BAD_VALUE', `the value for state key '${key}' is not JSON-serializable`, { cause: err });
  }
  if (text === undefined) throw new RuntimeError('BAD_VALUE', `the value for state key '${key}' is undefined (use delete() to remove a key)`);
  return text;
}

export function parseValue<T>(key: string, where: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new RuntimeError('STATE_CORRUPT', `state key '${key}' (${where}) does not hold JSON`, { cause: err });
  }
}
