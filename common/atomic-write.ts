// Durable file writes (agent checkpoints, the master's registry): a file holds either the old content
// or the new, never half of either.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { appendFile, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** O_SYNC: a write returns once the data is on disk, as write + fsync would (one call fewer). */
const WRITE_SYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_SYNC;

/** temp file + fsync + rename + fsync of the directory (so the rename itself survives a crash). */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  await writeFilesAtomic(path.dirname(file), [{ name: path.basename(file), content }]);
}

/**
 * Several files of one directory, each replaced atomically: the temp files are written and fsynced
 * in parallel, renamed in the order given, and one fsync of the directory makes every rename durable.
 * Once it resolves all are durable; a crash before that can leave any subset of them new.
 */
export async function writeFilesAtomic(dir: string, files: ReadonlyArray<{ name: string; content: string }>): Promise<void> {
  const tmps = files.map((f) => path.join(dir, `.${f.name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`));
  try {
    await Promise.all(files.map((f, i) => writeFile(tmps[i] ?? '', f.content, { encoding: 'utf8', mode: 0o600, flag: WRITE_SYNC })));
    for (const [i, f] of files.entries()) await rename(tmps[i] ?? '', path.join(dir, f.name));
  } catch (err) {
    await Promise.all(tmps.map((tmp) => rm(tmp, { force: true })));
    throw err;
  }
  await fsyncDir(dir);
}

/** Appends lines in one write and one fsync (group commit). A crash can leave a torn last line. */
export async function appendLinesDurable(file: string, lines: readonly string[]): Promise<void> {
  // 'as': O_APPEND | O_SYNC, so the write returns once the lines are on disk, as write + fsync would.
  await appendFile(file, `${lines.join('\n')}\n`, { encoding: 'utf8', mode: 0o600, flag: 'as' });
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
