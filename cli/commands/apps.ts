// `tessera apps list|add FILE|scale ID N|restart ID|remove ID`: a client of the services framework's
// Marathon API. add, scale, restart and remove follow their deployment until it finishes.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { RemoteError, errorMessage, requestJson } from '../../common/index.js';
import { parseDuration, parseNonNegativeInteger } from '../args.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { formatTable } from '../format.js';
import { flag, jsonOption } from '../options.js';

export const DEFAULT_SERVICES = '127.0.0.1:8080';

export interface AppsFlags {
  services: string;
  json?: boolean;
  wait?: boolean;
  timeout: number;
  force?: boolean;
}

/** The parts of Marathon's app JSON the CLI reads. */
export interface AppSummary {
  id: string;
  instances: number;
  cpus: number;
  mem: number;
  cmd?: string;
  container?: { docker?: { image?: string } };
  tasksRunning: number;
  tasksStaged: number;
  tasksHealthy: number;
  tasksUnhealthy: number;
  healthChecks?: unknown[];
  deployments: Array<{ id: string }>;
  backoffUntil?: string;
}

export interface DeploymentSummary {
  id: string;
  affectedApps: string[];
  /** Marathon's step counters (1-based) and the actions of the step under way. */
  currentStep?: number;
  totalSteps?: number;
  currentActions?: Array<{ action: string; app: string }>;
}

function servicesOption(): Option {
  return new Option('--services <host:port>', 'the services framework API').default(DEFAULT_SERVICES);
}

function waitOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--no-wait', 'return once the deployment started'))
    .addOption(new Option('--timeout <duration>', 'how long to follow the deployment').default(300_000, '5m').argParser(flag(parseDuration)));
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  const apps = program.command('apps').description('long-running apps of the services framework (Marathon API)');
  apps
    .command('list')
    .description('list apps with their instances and health')
    .addOption(servicesOption())
    .addOption(jsonOption())
    .action(async (options: AppsFlags) => setExitCode(await listApps(options)));
  waitOptions(
    apps
      .command('add')
      .description('create an app from a Marathon JSON file (- for stdin) and follow its deployment')
      .argument('<file>', 'the app definition (JSON)')
      .addOption(servicesOption()),
  ).action(async (file: string, options: AppsFlags) => setExitCode(await addApp(file, options)));
  waitOptions(
    apps
      .command('scale')
      .description('change the number of instances')
      .argument('<id>', 'the app id')
      .argument('<instances>', 'the new number of instances', flag(parseNonNegativeInteger))
      .addOption(servicesOption())
      .addOption(new Option('--force', 'override a running deployment')),
  ).action(async (id: string, instances: number, options: AppsFlags) => setExitCode(await scaleApp(id, instances, options)));
  waitOptions(
    apps
      .command('restart')
      .description('replace every task of an app by a rolling deployment')
      .argument('<id>', 'the app id')
      .addOption(servicesOption())
      .addOption(new Option('--force', 'override a running deployment')),
  ).action(async (id: string, options: AppsFlags) => setExitCode(await restartApp(id, options)));
  waitOptions(
    apps
      .command('remove')
      .description('remove an app and kill its tasks')
      .argument('<id>', 'the app id')
      .addOption(servicesOption())
      .addOption(new Option('--force', 'override a running deployment')),
  ).action(async (id: string, options: AppsFlags) => setExitCode(await removeApp(id, options)));
}

function baseUrl(services: string): string {
  return /^https?:\/\//.test(services) ? services.replace(/\/+$/, '') : `http://${services}`;
}

function appPath(id: string): string {
  const normalized = id.startsWith('/') ? id : `/${id}`;
  return `/v2/apps${normalized.split('/').map(encodeURIComponent).join('/')}`;
}

/** A peer error as the CLI says it, naming the field the services framework named. */
function explain(err: unknown, what: string): never {
  if (err instanceof RemoteError) {
    if (err.code === 'UNREACHABLE') throw new CliError(`cannot reach the services framework: ${err.peerMessage}`);
    const field = err.field === undefined ? '' : ` (field ${err.field})`;
    throw new CliError(`${what}: ${err.peerMessage}${field}`);
  }
  throw err;
}

export async function listApps(options: AppsFlags): Promise<number> {
  const { apps } = await requestJson<{ apps: AppSummary[] }>(`${baseUrl(options.services)}/v2/apps`).catch((err: unknown) => explain(err, 'listing apps'));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ apps }, null, 2)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(formatApps(apps));
  return EXIT.ok;
}

export function formatApps(apps: readonly AppSummary[]): string {
  if (apps.length === 0) return 'no apps\n';
  return formatTable(
    ['ID', 'INSTANCES', 'RUNNING', 'HEALTHY', 'CPUS', 'MEM', 'DEPLOYING', 'COMMAND'],
    apps.map((app) => [
      app.id,
      String(app.instances),
      String(app.tasksRunning),
      (app.healthChecks ?? []).length > 0 ? String(app.tasksHealthy) : '-',
      String(app.cpus),
      `${app.mem} MB`,
      app.deployments.length > 0 ? 'yes' : app.backoffUntil ? 'backoff' : '',
      app.container?.docker?.image ? `[${app.container.docker.image}] ${app.cmd ?? ''}` : (app.cmd ?? ''),
    ]),
  );
}

export async function addApp(file: string, options: AppsFlags): Promise<number> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not JSON: ${errorMessage(err)}`);
  }
  const created = await requestJson<AppSummary>(`${baseUrl(options.services)}/v2/apps`, { method: 'POST', body }).catch((err: unknown) =>
    explain(err, 'the app was refused'),
  );
  process.stdout.write(`created app ${created.id} (${created.instances} instance${created.instances === 1 ? '' : 's'})\n`);
  const deploymentId = created.deployments[0]?.id;
  return deploymentId === undefined ? EXIT.ok : follow(created.id, deploymentId, options);
}

export async function scaleApp(id: string, instances: number, options: AppsFlags): Promise<number> {
  const result = await requestJson<{ deploymentId: string }>(`${baseUrl(options.services)}${appPath(id)}${options.force ? '?force=true' : ''}`, {
    method: 'PUT',
    body: { instances },
  }).catch((err: unknown) => explain(err, `cannot scale ${id}`));
  process.stdout.write(`scaling ${id} to ${instances}\n`);
  return follow(id, result.deploymentId, options);
}

export async function restartApp(id: string, options: AppsFlags): Promise<number> {
  const result = await requestJson<{ deploymentId: string }>(`${baseUrl(options.services)}${appPath(id)}/restart${options.force ? '?force=true' : ''}`, {
    method: 'POST',
    body: {},
  }).catch((err: unknown) => explain(err, `cannot restart ${id}`));
  process.stdout.write(`restarting ${id}\n`);
  return follow(id, result.deploymentId, options);
}

export async function removeApp(id: string, options: AppsFlags): Promise<number> {
  const result = await requestJson<{ deploymentId: string }>(`${baseUrl(options.services)}${appPath(id)}${options.force ? '?force=true' : ''}`, {
    method: 'DELETE',
  }).catch((err: unknown) => explain(err, `cannot remove ${id}`));
  process.stdout.write(`removing ${id}\n`);
  return follow(id, result.deploymentId, options, true);
}

/**
 * Shows a deployment's progress (one line per change, or one updated line on a terminal) until it
 * leaves /v2/deployments; then judges it by the app: at its instances and nothing else deploying.
 */
async function follow(id: string, deploymentId: string, options: AppsFlags, removing = false): Promise<number> {
  if (options.wait === false) {
    process.stdout.write(`deployment ${deploymentId} started\n`);
    return EXIT.ok;
  }
  const base = baseUrl(options.services);
  const tty = process.stdout.isTTY === true;
  const deadline = Date.now() + options.timeout;
  let last = '';
  const show = (line: string): void => {
    if (line === last) return;
    last = line;
    process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  for (;;) {
    const deployments = await requestJson<DeploymentSummary[]>(`${base}/v2/deployments`).catch((err: unknown) => explain(err, 'following the deployment'));
    const current = deployments.find((d) => d.id === deploymentId);
    const running = current !== undefined;
    let app: AppSummary | undefined;
    if (!removing) {
      app = (await requestJson<{ app: AppSummary }>(`${base}${appPath(id)}`).catch((err: unknown) => explain(err, 'following the deployment'))).app;
      show(progressLine(app, deploymentId, current));
    } else {
      show(`deployment ${deploymentId}${stepLabel(current)}: stopping ${id}`);
    }
    if (!running) {
      if (tty) process.stdout.write('\n');
      const other = deployments.find((d) => d.affectedApps.includes(id.startsWith('/') ? id : `/${id}`));
      if (other) throw new CliError(`deployment ${deploymentId} was superseded by ${other.id}`);
      process.stdout.write(removing ? `removed ${id}\n` : `deployment ${deploymentId} finished: ${app?.tasksRunning ?? 0}/${app?.instances ?? 0} running\n`);
      return EXIT.ok;
    }
    if (Date.now() > deadline) {
      if (tty) process.stdout.write('\n');
      throw new CliError(`deployment ${deploymentId} still running after ${Math.round(options.timeout / 1000)} s (it goes on; see tessera apps list)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export function progressLine(app: AppSummary, deploymentId: string, deployment?: DeploymentSummary): string {
  const health = (app.healthChecks ?? []).length > 0 ? `, ${app.tasksHealthy} healthy` : '';
  const backoff = app.backoffUntil ? `, backing off until ${app.backoffUntil}` : '';
  return `deployment ${deploymentId}${stepLabel(deployment)}: ${app.tasksRunning}/${app.instances} running${health}, ${app.tasksStaged} staging${backoff}`;
}

/** ` (step 1/2 StartApplication)`, or '' for a services framework that does not report steps. */
export function stepLabel(deployment: DeploymentSummary | undefined): string {
  if (deployment?.currentStep === undefined || deployment.totalSteps === undefined) return '';
  const actions = [...new Set((deployment.currentActions ?? []).map((a) => a.action))].join('+');
  return ` (step ${deployment.currentStep}/${deployment.totalSteps}${actions ? ` ${actions}` : ''})`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
