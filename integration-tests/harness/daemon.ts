// A Tessera daemon (master or agent) run as a real process through the built CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

export class Daemon {
  private exited: Promise<number | null>;
  private constructor(
    readonly name: string,
    readonly url: string,
    private child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts `tessera <args>` and resolves once `GET <url>/health` answers. */
  static async start(name: string, args: string[], url: string, logDir: string): Promise<Daemon> {
    const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...(process.env.TESSERA_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.TESSERA_CPU_PROF_DIR] : []), CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TESSERA_LOG_LEVEL: process.env.TESSERA_LOG_LEVEL ?? 'debug' },
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const daemon = new Daemon(name, url, child);
    let exitCode: number | null | undefined;
    void daemon.exited.then((code) => (exitCode = code));
    await waitFor(`${name} at ${url}/health (log: ${join(logDir, `${name}.log`)})`, async () => {
      if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode}; see ${logDir}/${name}.log`);
      const response = await fetch(`${url}/health`).catch(() => undefined);
      return response?.ok ? true : undefined;
    });
    return daemon;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: the daemon dies without any clean-up, as in a crash. */
  async crash(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for a clean exit (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
