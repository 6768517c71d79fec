// The public face of master/frameworks/.
export type { FrameworkDriver } from './framework-driver.js';
export { MesosDriver } from './mesos-driver.js';
export { SchedulerService } from './scheduler-service.js';
export type { SchedulerServiceOptions } from './scheduler-service.js';
export { basicAuthenticator, parseCredentials, readCredentialsFile } from './credentials.js';
