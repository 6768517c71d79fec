// The public face of isolators/.
export type { ContainerLimits, Isolator, IsolatorName, Limitation } from './isolator.js';
export { createIsolator, type CreateIsolatorOptions } from './create-isolator.js';
export { IsolatorError, type IsolatorErrorCode } from './errors.js';
export { detectCgroupVersion, parseMountinfo, v1ControllerMounts, type CgroupVersion } from './detect.js';
// For readers of cgroup files the isolators do not own (the Docker executor's container stats).
export { parseFlatKeyed } from './cgroup-files.js';
export { Cgroups1Isolator, type Cgroups1IsolatorOptions } from './cgroups1/index.js';
export { PosixIsolator } from './posix/index.js';
