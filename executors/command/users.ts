// Resolves `command.user` to uid/gid from /etc/passwd (no NSS: the agent runs tasks as local users).
import { readFile } from 'node:fs/promises';
import { ExecutorError } from '../errors.js';

export interface UserIds {
  uid: number;
  gid: number;
}

/** Looks `name` up in a passwd-format text; undefined if absent. */
export function parsePasswdEntry(passwd: string, name: string): UserIds | undefined {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== name || fields.length < 4) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  }
  return undefined;
}

export async function resolveUser(name: string, passwdFile = '/etc/passwd'): Promise<UserIds> {
  let passwd: string;
  try {
    passwd = await readFile(passwdFile, 'utf8');
  } catch (err) {
    throw new ExecutorError('LAUNCH_FAILED', `cannot read ${passwdFile} to resolve user '${name}'`, { cause: err });
  }
  const ids = parsePasswdEntry(passwd, name);
  if (!ids) throw new ExecutorError('LAUNCH_FAILED', `unknown user '${name}'`);
  return ids;
}
