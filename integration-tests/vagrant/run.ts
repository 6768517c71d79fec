// Shared by the Vagrant checks: the repository root, running a command with a deadline, and skipping a
// test for a missing tool (a failure in CI, where .ci/run installs every tool).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/integration-tests/vagrant/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they came. */
  output: string;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string;
}

/**
 * Runs a command to its end and collects its output; never rejects for a non-zero exit (the caller
 * asserts on `code`). Past the deadline the whole process group gets SIGKILL and `code` is -1.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // Its own group, so a timeout kills what it started too (vagrant's ssh children).
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let output = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      output += chunk;
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, options.timeoutMs ?? 60_000);
    const done = (code: number, extra = ''): void => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr + extra, output: output + extra, ms: Date.now() - started });
    };
    child.once('error', (err) => done(127, `\n${command}: ${err.message}`));
    child.once('close', (code) =>
      timedOut ? done(-1, `\n${command} killed after ${options.timeoutMs ?? 60_000} ms`) : done(code ?? 1),
    );
  });
}

/** Whether `command` is on PATH. */
export async function onPath(command: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${command}`], { timeoutMs: 5_000 })).code === 0;
}

/** The last `lines` lines of a command's output, for assertion messages. */
export function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Skips the running test with the reason printed; in CI (CI=true) a missing part fails instead. */
export function missingPart(ctx: Mocha.Context, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: .ci/run should have provided it)`);
  console.log(`      skipped: ${reason}`);
  ctx.skip();
}
