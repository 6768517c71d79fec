// The public face of master/agents/.
export { AgentManager, agentRef } from './agent-manager.js';
export type { AgentManagerOptions, AgentRecord, AgentStatus, RegisterResult } from './agent-manager.js';
export { HttpAgentClient, agentUrl, classifyFailure } from './agent-client.js';
export type { AgentClient, CallFailure } from './agent-client.js';
