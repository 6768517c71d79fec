// The public face of executors/docker/.
export { DockerExecutor, type DockerExecutorOptions } from './docker-executor.js';
export type { DockerClient, PullProgress } from './docker-client.js';
