// GET /files/read: a slice of a file inside the sandboxes, in Mesos's shape {"data", "offset"}.
// Confinement: the path must lie inside the sandboxes root both as written and once every symlink is
// resolved (realpath); the file is then opened without following a final symlink and the opened
// descriptor's own path is checked again, so a symlink swapped in between cannot lead outside.
import { constants } from 'node:fs';
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { NotFoundError, ValidationError } from '../../common/index.js';
import { AgentError } from '../errors.js';

/** Upper bound of one read, so a huge log cannot be pulled into memory at once. */
export const MAX_READ_LENGTH = 4 * 1024 * 1024;

export interface FileSlice {
  data: string;
  offset: number;
}

export interface ReadRequest {
  path: string;
  /** -1: only report the size (Mesos: {"data": "", "offset": size}). */
  offset: number;
  length: number | undefined;
}

export function parseReadQuery(query: Record<string, string | string[] | undefined>): ReadRequest {
  const file = single(query.path);
  if (file === undefined || file === '') throw new ValidationError('path', 'is required');
  const offset = integerParam('offset', single(query.offset)) ?? 0;
  if (offset < -1) throw new ValidationError('offset', 'must be -1 (size only) or a byte offset ≥ 0');
  const length = integerParam('length', single(query.length));
  if (length !== undefined && length < 0) throw new ValidationError('length', 'must be ≥ 0');
  return { path: file, offset, length };
}

export async function readSandboxFile(sandboxesRoot: string, request: ReadRequest): Promise<FileSlice> {
  const fh = await openConfined(sandboxesRoot, request.path);
  try {
    const stat = await fh.stat();
    if (stat.isDirectory()) throw new ValidationError('path', 'is a directory');
    if (!stat.isFile()) throw new ValidationError('path', 'is not a regular file');
    const size = stat.size;
    if (request.offset === -1) return { data: '', offset: size };
    const offset = request.offset;
    const wanted = Math.min(request.length ?? MAX_READ_LENGTH, MAX_READ_LENGTH, Math.max(0, size - offset));
    if (wanted <= 0) return { data: '', offset };
    const buffer = Buffer.alloc(wanted);
    const { bytesRead } = await fh.read(buffer, 0, wanted, offset);
    const bytes = completeUtf8(buffer.subarray(0, bytesRead), offset + bytesRead >= size);
    return { data: bytes.toString('utf8'), offset };
  } finally {
    await fh.close();
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function forbidden(file: string): AgentError {
  return new AgentError('FORBIDDEN', `'${file}' is outside the task sandboxes`);
}

async function openConfined(sandboxesRoot: string, file: string): Promise<FileHandle> {
  if (!path.isAbsolute(file)) throw new ValidationError('path', 'must be an absolute path');
  const root = await realpath(sandboxesRoot);
  const lexical = path.resolve(file);
  if (!isInside(path.resolve(sandboxesRoot), lexical) && !isInside(root, lexical)) throw forbidden(file);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('file', file);
    throw err;
  }
  if (!isInside(root, real)) throw forbidden(file);
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError('file', file);
    if (code === 'ELOOP') throw forbidden(file);
    throw err;
  }
  // What was actually opened, whatever happened to the path meanwhile (Linux: /proc/self/fd).
  const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => real);
  if (!isInside(root, opened)) {
    await fh.close();
    throw forbidden(file);
  }
  return fh;
}

/**
 * Drops an incomplete UTF-8 sequence at the end of a chunk (it is sent with the next read), so
 * `offset + Buffer.byteLength(data)` is where the next read starts. At end of file nothing is held back.
 */
function completeUtf8(bytes: Buffer, atEof: boolean): Buffer {
  if (atEof) return bytes;
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if (byte === undefined) break;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function integerParam(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^-?\d+$/.test(text)) throw new ValidationError(name, 'must be an integer');
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new ValidationError(name, 'is too large');
  return value;
}
