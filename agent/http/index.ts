// The public face of agent/http/: the agent's HTTP API.
export { createApp, startHttpServer, type AgentHttpOptions, type RunningServer } from './server.js';
export { readSandboxFile, parseReadQuery, MAX_READ_LENGTH, type FileSlice, type ReadRequest } from './files.js';
export { stateView, stateResources, formatPortRanges, type AgentState, type StateTask, type StateInputs, type StateResources } from './state-view.js';
export { createMetrics, type MetricsSources } from './metrics.js';
