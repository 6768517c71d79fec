// cgroup v1 `memory` controller: a hard limit and no swap. oom_kill_disable stays 0: with 1 the task
// hangs in D state instead of being killed. The OOM signal is the `oom_kill` counter of
// memory.oom_control (memory.failcnt can stay 0 and under_oom stays 0 on this kernel).
import type { ResourceStatistics } from '../../common/index.js';
import { parseFlatKeyed, type CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';
import { parseLimit } from './controller.js';

export const MEMSW_LIMIT_FILE = 'memory.memsw.limit_in_bytes';

export interface MemoryWriteContext {
  /** Whether memory.memsw.* exists (swap accounting enabled). */
  memsw: boolean;
  /** The current memory.limit_in_bytes; undefined for a fresh cgroup (unlimited). */
  currentLimitBytes?: number;
}

/**
 * The kernel requires memsw.limit ≥ limit at every moment, so raising a limit writes memsw first and
 * lowering it (or a fresh cgroup, where both are unlimited) writes memory.limit_in_bytes first.
 */
export function memoryWrites(limits: ContainerLimits, context: MemoryWriteContext): CgroupFileWrite[] {
  const bytes = String(Math.round(limits.memBytes));
  const limit: CgroupFileWrite = { file: 'memory.limit_in_bytes', value: bytes };
  if (!context.memsw) return [limit];
  // Same value: memory + swap may not exceed memory, i.e. no swap.
  const memsw: CgroupFileWrite = { file: MEMSW_LIMIT_FILE, value: bytes };
  const raising = context.currentLimitBytes !== undefined && limits.memBytes > context.currentLimitBytes;
  return raising ? [memsw, limit] : [limit, memsw];
}

/** The number of OOM kills in the cgroup, from memory.oom_control. */
export function parseOomKills(oomControl: string | undefined): number | undefined {
  return oomControl === undefined ? undefined : parseFlatKeyed(oomControl).get('oom_kill');
}

/** Above this, memory.limit_in_bytes means "unlimited" (the kernel reports PAGE_COUNTER_MAX pages). */
const UNLIMITED_BYTES = 2 ** 62;

export function parseMemoryUsage(files: {
  limit?: string;
  stat?: string;
  usage?: string;
  maxUsage?: string;
  oomControl?: string;
}): Partial<ResourceStatistics> {
  const usage: Partial<ResourceStatistics> = {};
  const limit = parseLimit(files.limit);
  if (limit !== undefined && limit < UNLIMITED_BYTES) usage.mem_limit_bytes = limit;
  if (files.stat !== undefined) {
    const stat = parseFlatKeyed(files.stat);
    // total_rss includes descendants (hierarchical); rss alone would miss nested cgroups.
    const rss = stat.get('total_rss') ?? stat.get('rss');
    if (rss !== undefined) usage.mem_rss_bytes = rss;
  }
  const total = parseLimit(files.usage);
  if (total !== undefined) usage.mem_total_bytes = total;
  const max = parseLimit(files.maxUsage);
  if (max !== undefined) usage.mem_max_bytes = max;
  const oomKills = parseOomKills(files.oomControl);
  if (oomKills !== undefined) usage.mem_oom_kills = oomKills;
  return usage;
}
