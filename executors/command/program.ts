// In argv mode (shell: false) a missing program is a launch failure, found before anything starts,
// rather than a shell's "not found" and exit 127 later.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ExecutorError } from '../errors.js';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves `program` like execvp: a name with a slash relative to `cwd`, else the first hit on PATH. */
export async function findProgram(program: string, path: string, cwd: string): Promise<string> {
  if (program.includes('/')) {
    const full = isAbsolute(program) ? program : resolve(cwd, program);
    if (await isExecutable(full)) return full;
  } else {
    for (const dir of path.split(':')) {
      const candidate = join(dir === '' ? cwd : resolve(cwd, dir), program);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  throw new ExecutorError('LAUNCH_FAILED', `program '${program}' not found or not executable`);
}
