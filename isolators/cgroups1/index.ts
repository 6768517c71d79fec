// The public face of isolators/cgroups1/.
export { Cgroups1Isolator, type Cgroups1IsolatorOptions } from './cgroups1-isolator.js';
