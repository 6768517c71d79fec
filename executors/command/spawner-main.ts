// The spawner process: a small, long-lived child of the agent that forks and execs task wrappers for
// it. Forking here, not in the agent, keeps the agent's event loop from blocking on fork/exec (libuv's
// spawn waits until the child has exec'd) and copies the page tables of a small process instead of
// the agent's. It reads requests from stdin and answers on stdout (spawner-protocol.ts); it is the
// wrappers' parent, so it reaps them and reports their exits. When stdin closes (the agent stopped or
// died) it exits, leaving the wrappers running: they are detached and outlive their agent by design.
// Imports stay minimal: this starts at an agent's first command launch.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fchownSync, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { encodeLine, LineSplitter, parseRequest, type SpawnerMessage, type SpawnRequest } from './spawner-protocol.js';

/** Wrappers spawned and not yet reaped, by request id; the gate is kept until released. */
const wrappers = new Map<number, { child: ChildProcess; gate: Writable | null }>();

function send(message: SpawnerMessage): void {
  process.stdout.write(encodeLine(message));
}

function failed(id: number, err: unknown): void {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  send({ op: 'failed', id, message: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) });
}

function spawnWrapper(req: SpawnRequest): void {
  const fds: number[] = [];
  try {
    // Sync: this process does nothing else meanwhile, and it saves a thread-pool round trip each.
    for (const path of [req.stdoutPath, req.stderrPath]) {
      const fd = openSync(path, 'a');
      fds.push(fd);
      if (req.uid !== undefined && req.gid !== undefined) fchownSync(fd, req.uid, req.gid);
    }
    const child = spawn(req.file, req.args, {
      cwd: req.cwd,
      env: req.env,
      detached: true,
      stdio: ['ignore', fds[0], fds[1], 'pipe'],
      ...(req.uid !== undefined && req.gid !== undefined ? { uid: req.uid, gid: req.gid } : {}),
    });
    // Run-time errors (ENOENT of the cwd, EACCES…) come as 'error' on the next tick, without 'exit'.
    child.once('error', (err) => {
      if (child.pid === undefined) failed(req.id, err);
    });
    child.once('spawn', () => {
      const pid = child.pid;
      if (pid === undefined) return;
      wrappers.set(req.id, { child, gate: child.stdio[3] as Writable | null });
      send({ op: 'spawned', id: req.id, pid });
    });
    child.once('exit', (code, signal) => {
      const entry = wrappers.get(req.id);
      wrappers.delete(req.id);
      entry?.gate?.destroy();
      send({ op: 'exit', id: req.id, code, signal });
    });
  } catch (err) {
    failed(req.id, err);
  } finally {
    // The child has its own copies.
    for (const fd of fds) closeSync(fd);
  }
}

function release(id: number): void {
  const entry = wrappers.get(id);
  const gate = entry?.gate;
  if (!entry || !gate) {
    failed(id, new Error(entry ? 'the wrapper was already released' : 'no such wrapper (it has ended)'));
    return;
  }
  entry.gate = null;
  let answered = false;
  gate.once('error', (err) => {
    if (answered) return;
    answered = true;
    gate.destroy();
    failed(id, err);
  });
  gate.end('go\n', () => {
    if (answered) return;
    answered = true;
    gate.destroy();
    send({ op: 'released', id });
  });
}

const lines = new LineSplitter((line) => {
  let request;
  try {
    request = parseRequest(line);
  } catch {
    request = undefined;
  }
  if (!request) {
    process.stderr.write(`tessera spawner: ignoring a malformed request: ${line.slice(0, 200)}\n`);
    return;
  }
  switch (request.op) {
    case 'spawn':
      spawnWrapper(request);
      return;
    case 'release':
      release(request.id);
      return;
    default: {
      // common's assertNever would load all of common/ (pino, ajv) into this small process.
      const never: never = request;
      throw new Error(`unknown request ${JSON.stringify(never)}`);
    }
  }
});

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => lines.push(chunk));
// The agent is gone (or closed us): exit at once, leaving the wrappers to run on. Unreleased ones see
// their gate close and run nothing.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
