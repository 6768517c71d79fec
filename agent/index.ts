// The public face of agent/: the agent daemon.
export { Agent, type AgentOptions } from './agent.js';
export { parseResources, detectResources, DEFAULT_RESERVED_MEM_MB } from './resources.js';
export { parseAttributes } from './attributes.js';
export { AgentError, type AgentErrorCode } from './errors.js';
export type { AgentState, StateTask } from './http/index.js';
