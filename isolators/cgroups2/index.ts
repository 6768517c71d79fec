// The public face of isolators/cgroups2/.
export { Cgroups2Isolator, type Cgroups2IsolatorOptions } from './cgroups2-isolator.js';
export type { Controller, ControllerName, ControllerWrite } from './controller.js';
