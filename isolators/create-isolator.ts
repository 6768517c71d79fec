// Picks the isolator: 'posix' always posix; 'auto' cgroups v2, else v1, else posix with a loud
// warning; 'cgroups' v2 or v1, else IsolatorError NO_CGROUPS.
import { assertNever, errorMessage, type Logger } from '../common/index.js';
import { Cgroups1Isolator } from './cgroups1/index.js';
import { Cgroups2Isolator } from './cgroups2/index.js';
import { detectCgroupVersion } from './detect.js';
import { IsolatorError } from './errors.js';
import type { Isolator } from './isolator.js';
import { PosixIsolator } from './posix/index.js';

export interface CreateIsolatorOptions {
  mode: 'auto' | 'cgroups' | 'posix';
  /** A name or relative path beneath this process's own cgroup, e.g. 'tessera'. */
  cgroupsRoot: string;
  logger: Logger;
}

export async function createIsolator(options: CreateIsolatorOptions): Promise<Isolator> {
  const { mode, cgroupsRoot, logger } = options;
  switch (mode) {
    case 'posix':
      return PosixIsolator.create({ logger, reason: 'isolation mode posix' });
    case 'auto':
    case 'cgroups': {
      let reason: string;
      let cause: unknown;
      const uid = process.getuid?.();
      if (uid !== 0) {
        reason = `not root (uid ${uid ?? 'unknown'}): cannot make cgroups`;
      } else {
        const version = await detectCgroupVersion();
        try {
          if (version === 'v2') return await Cgroups2Isolator.create({ cgroupsRoot, logger });
          if (version === 'v1') return await Cgroups1Isolator.create({ cgroupsRoot, logger });
          reason = 'no usable cgroups (v2 needs memory, cpu, pids; v1 needs memory, cpu, cpuacct, pids)';
        } catch (err) {
          reason = `cgroups ${version} setup failed: ${errorMessage(err)}`;
          cause = err;
        }
      }
      if (mode === 'cgroups') {
        throw new IsolatorError('NO_CGROUPS', `cgroups isolation required but unusable: ${reason}`, { cause });
      }
      return PosixIsolator.create({ logger, reason });
    }
    default:
      return assertNever(mode, 'isolation mode');
  }
}
