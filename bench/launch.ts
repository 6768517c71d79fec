// npm run bench:launch — launch latency and throughput through the HTTP API, against baselines
// measured in the same run:
//   (a) N sequential no-op command tasks under cgroups  vs  a bare shell script doing the same cgroup work
//   (b) N sequential no-op docker tasks                 vs  `docker run --rm` of the same image
//   (c) M no-op command tasks in flight at once on one agent: tasks/s
// Sizes: BENCH_N (default 40), BENCH_DOCKER_N (default 24), BENCH_THROUGHPUT_N (default 300).
// (a) and (b) take baseline and Tessera samples in alternating blocks, so drift hits both alike.
import { randomBytes } from 'node:crypto';
import { isTerminal, requestJson, type TaskSubmission, type TaskView } from '../common/index.js';
import { TEST_IMAGE, TestCluster } from '../integration-tests/harness/cluster.js';
import { bareCgroupLaunches, dockerRunRm } from './baseline.js';
import { ms, summarize, type Summary } from './stats.js';

// The daemons log at their own default level (the test harness would otherwise ask for debug).
process.env.TESSERA_LOG_LEVEL ??= 'info';

const N = Number(process.env.BENCH_N ?? 40);
const DOCKER_N = Number(process.env.BENCH_DOCKER_N ?? 24);
const THROUGHPUT_N = Number(process.env.BENCH_THROUGHPUT_N ?? 300);

const noopCommand: TaskSubmission = { name: 'noop', resources: { cpus: 0.1, mem: 64 }, command: { value: 'true' } };
const noopDocker: TaskSubmission = {
  name: 'noop-docker',
  resources: { cpus: 0.1, mem: 64 },
  container: { type: 'DOCKER', docker: { image: TEST_IMAGE } },
  // `true` itself, as the baseline's `docker run IMAGE true` runs it: through `/bin/sh -c` the task
  // would exec twice under its 0.1-CPU quota, which the baseline does not.
  command: { value: 'true', shell: false },
};

/**
 * Submission → final state as the master reports it, following the task with blocking reads (the
 * master answers at each new status, as `tessera run` follows a task), so no polling interval is
 * measured and no polling load competes with the launch.
 */
async function timeOne(cluster: TestCluster, body: TaskSubmission): Promise<number> {
  const started = performance.now();
  let view = await cluster.submit(body);
  while (!isTerminal(view.state)) {
    const url = `${cluster.masterUrl}/api/v1/tasks/${encodeURIComponent(view.task_id)}?index=${view.statuses.length}&wait=30`;
    view = await requestJson<TaskView>(url, { timeoutMs: 40_000 });
  }
  if (view.state !== 'TASK_FINISHED') throw new Error(`${view.task_id} ended ${view.state}: ${view.message ?? ''}`);
  return performance.now() - started;
}

async function sequential(cluster: TestCluster, body: TaskSubmission, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await timeOne(cluster, body));
  return samples;
}

/** Tasks the master has seen end, from the cheap metrics snapshot (the task list is heavy to poll). */
async function endedCount(cluster: TestCluster): Promise<number> {
  const snapshot = await requestJson<Record<string, number>>(`${cluster.masterUrl}/metrics/snapshot`);
  return ['finished', 'failed', 'killed', 'lost', 'error'].reduce((sum, s) => sum + (snapshot[`master/tasks_${s}`] ?? 0), 0);
}

async function throughput(cluster: TestCluster, n: number): Promise<number> {
  const endedBefore = await endedCount(cluster);
  const started = performance.now();
  const ids = await Promise.all(Array.from({ length: n }, () => cluster.submit(noopCommand).then((t) => t.task_id)));
  while ((await endedCount(cluster)) - endedBefore < n) await new Promise((r) => setTimeout(r, 20));
  const elapsed = performance.now() - started;
  const { tasks } = await requestJson<{ tasks: TaskView[] }>(`${cluster.masterUrl}/api/v1/tasks`);
  const wanted = new Set(ids);
  const bad = tasks.filter((t) => wanted.has(t.task_id) && t.state !== 'TASK_FINISHED');
  if (bad.length > 0) throw new Error(`${bad.length} tasks did not finish, e.g. ${bad[0]!.task_id}: ${bad[0]!.state}`);
  return n / (elapsed / 1000);
}

/**
 * Baseline and Tessera samples taken in alternating blocks, so that the machine's drift over the run
 * (it is noisy) falls on both sides alike instead of on whichever ran second.
 */
async function interleaved(
  n: number,
  block: number,
  baseline: (count: number) => Promise<number[]>,
  tessera: (count: number) => Promise<number[]>,
): Promise<{ baseline: number[]; tessera: number[] }> {
  const result = { baseline: [] as number[], tessera: [] as number[] };
  for (let done = 0; done < n; done += block) {
    const count = Math.min(block, n - done);
    result.baseline.push(...(await baseline(count)));
    result.tessera.push(...(await tessera(count)));
  }
  return result;
}

function row(label: string, s: Summary): string {
  return `${label.padEnd(44)} p50 ${ms(s.p50).padStart(10)}   p99 ${ms(s.p99).padStart(10)}   (n=${s.n})`;
}

async function main(): Promise<void> {
  // The harness logs at debug for tests; here logging would only compete for the same two cores.
  process.env.TESSERA_LOG_LEVEL ??= 'info';
  const cluster = await TestCluster.start({ agentArgs: ['--docker', 'on', '--resources', 'cpus:64;mem:65536'] });
  try {
    console.log(`Tessera launch benchmark (one agent, cgroups ${process.env.TESSERA_BENCH_NOTE ?? 'v1'}); lower is better except (c)\n`);

    await timeOne(cluster, noopCommand); // warm-up
    const commandRuns = await interleaved(
      N,
      5,
      (count) => bareCgroupLaunches(count, `tessera-bench-${randomBytes(3).toString('hex')}`),
      (count) => sequential(cluster, noopCommand, count),
    );
    const bare = summarize(commandRuns.baseline);
    const tesseraCommand = summarize(commandRuns.tessera);
    console.log('(a) sequential no-op command tasks');
    console.log(row('  bare shell: cgroup set-up, exec, clean-up', bare));
    console.log(row('  tessera: HTTP submit → TASK_FINISHED', tesseraCommand));
    console.log(`  ratio p50 ${(tesseraCommand.p50 / bare.p50).toFixed(2)}×   p99 ${(tesseraCommand.p99 / bare.p99).toFixed(2)}×   (goal ≤ 2×)\n`);

    await timeOne(cluster, noopDocker); // warm-up
    const dockerRuns = await interleaved(
      DOCKER_N,
      3,
      (count) => dockerRunRm(count, TEST_IMAGE),
      (count) => sequential(cluster, noopDocker, count),
    );
    const dockerRun = summarize(dockerRuns.baseline);
    const tesseraDocker = summarize(dockerRuns.tessera);
    console.log('(b) sequential no-op docker tasks');
    console.log(row('  docker run --rm', dockerRun));
    console.log(row('  tessera: HTTP submit → TASK_FINISHED', tesseraDocker));
    console.log(`  ratio p50 ${(tesseraDocker.p50 / dockerRun.p50).toFixed(2)}×   p99 ${(tesseraDocker.p99 / dockerRun.p99).toFixed(2)}×   (goal ≤ 1.0×)\n`);

    const perSecond = await throughput(cluster, THROUGHPUT_N);
    const bareRate = 1000 / bare.p50;
    console.log(`(c) ${THROUGHPUT_N} no-op command tasks in flight on one agent`);
    console.log(`  tessera: ${perSecond.toFixed(1)} tasks/s   (bare shell, sequential: ${bareRate.toFixed(1)}/s; goal ≥ 100/s)`);
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
