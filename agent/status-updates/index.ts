// The public face of agent/status-updates/: reliable, ordered delivery of task status updates.
export { StatusUpdateManager, type StatusUpdateManagerOptions } from './status-update-manager.js';
