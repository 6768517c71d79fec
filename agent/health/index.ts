// The public face of agent/health/: Mesos health checks of running tasks.
export {
  HealthChecker,
  HEALTH_CHECK_DEFAULTS,
  MIN_PERIOD_MS,
  healthTiming,
  type HealthCheckerOptions,
  type HealthEvent,
  type HealthTiming,
  type Probe,
  type ProbeResult,
} from './health-checker.js';
export { probeFor, type ProbeContext, type ProbeTarget } from './task-probe.js';
export { runHttpProbe, runTcpProbe } from './network-probe.js';
