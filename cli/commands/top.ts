// `tessera top`: live resource use of every task, from each agent's /monitor/statistics.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { errorMessage, type ResourceStatistics, type TaskStatisticsEntry } from '../../common/index.js';
import { addressFromPid, parseInterval } from '../args.js';
import { EXIT } from '../errors.js';
import { formatBytes, formatCpus, formatDurationMs, formatPercent, formatTable } from '../format.js';
import { AgentClient, MasterClient } from '../master-client.js';
import { flag, jsonOption, masterOption, type MasterFlag } from '../options.js';

export interface TopOptions extends MasterFlag {
  interval: number;
  once?: boolean;
  json?: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('top')
    .description("show every task's CPU, memory, OOM kills and throttling, refreshed")
    .addOption(masterOption())
    .addOption(new Option('--interval <duration>', 'refresh interval').default(2000, '2s').argParser(flag(parseInterval)))
    .option('--once', 'print one table and exit')
    .addOption(jsonOption())
    .action(async (options: TopOptions) => setExitCode(await top(options)));
}

/** One agent's answer in one sample. */
export interface AgentSample {
  agentId: string;
  hostname: string;
  address: string;
  entries: TaskStatisticsEntry[];
  error?: string;
}

export async function top(options: TopOptions): Promise<number> {
  const master = new MasterClient(options.master);
  if (options.json) {
    for (;;) {
      process.stdout.write(`${JSON.stringify(await sample(master))}\n`);
      if (options.once) return EXIT.ok;
      await sleep(options.interval);
    }
  }
  const cpu = new CpuRates();
  let samples = await sample(master);
  cpu.update(samples);
  if (options.once) {
    // Two samples make a CPU rate; one second apart (or the interval, if shorter) is enough.
    await sleep(Math.min(options.interval, 1000));
    samples = await sample(master);
    process.stdout.write(formatTop(samples, cpu.update(samples)));
    return EXIT.ok;
  }
  const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '\n';
  const header = `tessera top — master ${options.master.text} — every ${formatDurationMs(options.interval)} (Ctrl-C to quit)\n\n`;
  process.stdout.write(clear + header + formatTop(samples, new Map()));
  for (;;) {
    await sleep(options.interval);
    samples = await sample(master);
    process.stdout.write(clear + header + formatTop(samples, cpu.update(samples)));
  }
}

async function sample(master: MasterClient): Promise<AgentSample[]> {
  const state = await master.state();
  const agents = state.slaves.filter((agent) => agent.active);
  return Promise.all(
    agents.map(async (agent): Promise<AgentSample> => {
      const address = addressFromPid(agent.pid);
      const base = { agentId: agent.id, hostname: agent.hostname, address: address?.hostPort ?? agent.pid };
      if (address === undefined) return { ...base, entries: [], error: `cannot tell its address from '${agent.pid}'` };
      try {
        return { ...base, entries: await new AgentClient(address).statistics() };
      } catch (err) {
        return { ...base, entries: [], error: errorMessage(err) };
      }
    }),
  );
}

function cpuSeconds(stats: ResourceStatistics): number | undefined {
  if (stats.cpus_user_time_secs === undefined && stats.cpus_system_time_secs === undefined) return undefined;
  return (stats.cpus_user_time_secs ?? 0) + (stats.cpus_system_time_secs ?? 0);
}

function entryKey(agentId: string, entry: TaskStatisticsEntry): string {
  return `${agentId}/${entry.task_id}/${entry.container_id}`;
}

/**
 * CPU use as a fraction of one CPU: the change in user+system seconds between two samples over the
 * change in their timestamps. A task seen for the first time has no rate yet.
 */
export class CpuRates {
  private previous = new Map<string, { cpu: number; timestamp: number }>();

  update(samples: readonly AgentSample[]): Map<string, number> {
    const rates = new Map<string, number>();
    const next = new Map<string, { cpu: number; timestamp: number }>();
    for (const agent of samples) {
      for (const entry of agent.entries) {
        const key = entryKey(agent.agentId, entry);
        const cpu = cpuSeconds(entry.statistics);
        if (cpu === undefined) continue;
        const current = { cpu, timestamp: entry.statistics.timestamp };
        next.set(key, current);
        const before = this.previous.get(key);
        const elapsed = before === undefined ? 0 : current.timestamp - before.timestamp;
        if (before !== undefined && elapsed > 0 && current.cpu >= before.cpu) {
          rates.set(key, (current.cpu - before.cpu) / elapsed);
        }
      }
    }
    this.previous = next;
    return rates;
  }
}

export function formatTop(samples: readonly AgentSample[], rates: ReadonlyMap<string, number>): string {
  const rows: string[][] = [];
  for (const agent of samples) {
    for (const entry of agent.entries) {
      const stats = entry.statistics;
      const memUsed = stats.mem_rss_bytes ?? stats.mem_total_bytes;
      rows.push([
        entry.task_id,
        agent.hostname,
        formatPercent(rates.get(entryKey(agent.agentId, entry))),
        formatCpus(stats.cpus_limit),
        `${formatBytes(memUsed)} / ${formatBytes(stats.mem_limit_bytes)}`,
        String(stats.mem_oom_kills ?? 0),
        stats.cpus_nr_periods === undefined ? '-' : `${stats.cpus_nr_throttled ?? 0}/${stats.cpus_nr_periods}`,
        stats.processes === undefined ? '-' : String(stats.processes),
      ]);
    }
  }
  rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  let text = formatTable(['TASK', 'AGENT', 'CPU%', 'CPU LIMIT', 'MEM / LIMIT', 'OOM', 'THROTTLED', 'PIDS'], rows);
  for (const agent of samples) {
    if (agent.error !== undefined) text += `agent ${agent.hostname} (${agent.address}): ${agent.error}\n`;
  }
  if (samples.length === 0) text += 'no active agents\n';
  return text;
}
