// The public face of isolators/.
export type { ContainerLimits, Isolator, IsolatorName, Limitation } from './isolator.js';
