// `tessera jobs list|add FILE|run NAME|remove NAME`: a client of the jobs framework's Chronos API.
import type { Command } from 'commander';
import { Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { requestJson } from '../../common/index.js';
import { parseMasterAddress, type Address } from '../args.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { formatTable } from '../format.js';
import { flag, jsonOption } from '../options.js';

export const DEFAULT_JOBS = '127.0.0.1:4400';

export interface JobsFlag {
  jobs: Address;
  json?: boolean;
}

/** The parts of a listed job this command shows. */
export interface ListedJob {
  name: string;
  schedule?: string;
  parents?: string[];
  successCount: number;
  errorCount: number;
  lastSuccess: string;
  lastError: string;
  nextRun?: string;
  running?: boolean;
  disabled?: boolean;
}

function jobsOption(): Option {
  return new Option('--jobs <host:port>', 'the jobs framework API')
    .default(parseMasterAddress(DEFAULT_JOBS, 4400), DEFAULT_JOBS)
    .argParser(flag((raw) => parseMasterAddress(raw, 4400)));
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  const jobs = program.command('jobs').description('manage jobs of the jobs framework (Chronos API)');
  jobs
    .command('list')
    .description('list jobs with their schedule, counters and last results')
    .addOption(jobsOption())
    .addOption(jsonOption())
    .action(async (options: JobsFlag) => setExitCode(await listJobs(options)));
  jobs
    .command('add')
    .description('add or replace the job(s) in a JSON file (one job or an array; `parents` makes a dependent job)')
    .argument('<file>', 'JSON job definition(s)')
    .addOption(jobsOption())
    .action(async (file: string, options: JobsFlag) => setExitCode(await addJobs(file, options)));
  jobs
    .command('run')
    .description('run a job now')
    .argument('<name>')
    .addOption(jobsOption())
    .action(async (name: string, options: JobsFlag) => setExitCode(await runJob(name, options)));
  jobs
    .command('remove')
    .description('remove a job (its run in progress is killed)')
    .argument('<name>')
    .addOption(jobsOption())
    .action(async (name: string, options: JobsFlag) => setExitCode(await removeJob(name, options)));
}

export async function listJobs(options: JobsFlag): Promise<number> {
  const list = await requestJson<ListedJob[]>(`${options.jobs.url}/v1/scheduler/jobs`);
  if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else process.stdout.write(formatJobs(list));
  return EXIT.ok;
}

export function formatJobs(list: readonly ListedJob[]): string {
  return formatTable(
    ['NAME', 'SCHEDULE', 'STATE', 'OK', 'FAILED', 'LAST SUCCESS', 'LAST ERROR', 'NEXT RUN'],
    list.map((job) => [
      job.name,
      job.schedule ?? `after ${(job.parents ?? []).join(', ')}`,
      job.disabled ? 'disabled' : job.running ? 'running' : 'idle',
      String(job.successCount),
      String(job.errorCount),
      job.lastSuccess || '-',
      job.lastError || '-',
      job.nextRun || '-',
    ]),
  );
}

export async function addJobs(file: string, options: JobsFlag): Promise<number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const bodies = Array.isArray(parsed) ? parsed : [parsed];
  for (const body of bodies) {
    if (typeof body !== 'object' || body === null) throw new UsageError(`${file}: each job must be a JSON object`);
    const name = String((body as { name?: unknown }).name ?? '?');
    const dependent = Array.isArray((body as { parents?: unknown }).parents);
    try {
      await requestJson(`${options.jobs.url}/v1/scheduler/${dependent ? 'dependency' : 'iso8601'}`, { body });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status !== undefined && status >= 400 && status < 500) {
        throw new CliError(`job '${name}' rejected: ${(err as { peerMessage?: string }).peerMessage ?? String(err)}`, EXIT.usage, { cause: err });
      }
      throw err;
    }
    process.stdout.write(`job '${name}' saved\n`);
  }
  return EXIT.ok;
}

export async function runJob(name: string, options: JobsFlag): Promise<number> {
  await requestJson(`${options.jobs.url}/v1/scheduler/job/${encodeURIComponent(name)}`, { method: 'PUT' });
  process.stdout.write(`job '${name}' started\n`);
  return EXIT.ok;
}

export async function removeJob(name: string, options: JobsFlag): Promise<number> {
  await requestJson(`${options.jobs.url}/v1/scheduler/job/${encodeURIComponent(name)}`, { method: 'DELETE' });
  process.stdout.write(`job '${name}' removed\n`);
  return EXIT.ok;
}
