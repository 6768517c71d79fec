// Runs the built `tessera` command as a user would, collecting its exit code and output.
import { execFile } from 'node:child_process';
import { CLI } from './daemon.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function tessera(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
