// Copies a container's output into the sandbox files `stdout` and `stderr` (the sandbox convention the
// agent's /files API and `tessera logs` read), appending, for as long as the container runs.
import { createWriteStream, type WriteStream } from 'node:fs';
import { appendFile, stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import type { DockerClient } from './docker-client.js';

export interface AttachedLogs {
  /** Resolves once the engine ended the stream and both files are flushed and closed. */
  readonly finished: Promise<void>;
  /** Stop following (the files are then closed). */
  close(): void;
}

function closeStream(stream: WriteStream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  stream.end();
  return finished(stream).then(
    () => undefined,
    () => undefined,
  );
}

export async function attachLogs(
  client: DockerClient,
  dockerId: string,
  sandboxDir: string,
  sinceSecs?: number,
): Promise<AttachedLogs> {
  const stdout = createWriteStream(path.join(sandboxDir, 'stdout'), { flags: 'a' });
  const stderr = createWriteStream(path.join(sandboxDir, 'stderr'), { flags: 'a' });
  // A write error (sandbox removed under us) must not crash the agent; the copy just stops.
  stdout.on('error', () => undefined);
  stderr.on('error', () => undefined);
  try {
    const follower = await client.followLogs(dockerId, {
      stdout,
      stderr,
      ...(sinceSecs !== undefined ? { sinceSecs } : {}),
    });
    const done = follower.done.then(() => Promise.all([closeStream(stdout), closeStream(stderr)])).then(() => undefined);
    return { finished: done, close: () => follower.close() };
  } catch (err) {
    await Promise.all([closeStream(stdout), closeStream(stderr)]);
    throw err;
  }
}

/** Creates the (empty) sandbox log files before the task starts, so they exist from its first moment. */
export async function touchLogFiles(sandboxDir: string): Promise<void> {
  await Promise.all(['stdout', 'stderr'].map((name) => appendFile(path.join(sandboxDir, name), '')));
}

/**
 * Where to resume following after an agent restart: the newest mtime of the sandbox's log files, in
 * whole seconds (rounded down). Docker's `since` then replays at most the last second already copied
 * (a few duplicate lines) instead of the whole history, and loses nothing written while we were down.
 * Undefined when neither file exists (then everything is copied).
 */
export async function resumeSinceSecs(sandboxDir: string): Promise<number | undefined> {
  const mtimes = await Promise.all(
    ['stdout', 'stderr'].map((name) =>
      stat(path.join(sandboxDir, name)).then(
        (s) => s.mtimeMs,
        () => undefined,
      ),
    ),
  );
  const known = mtimes.filter((m): m is number => m !== undefined);
  if (known.length === 0) return undefined;
  return Math.floor(Math.max(...known) / 1000);
}
