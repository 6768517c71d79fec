// The built-in task API's tasks belong to this framework (GET /master/state, TaskView.framework_id).
export const FRAMEWORK_ID = 'tessera-tasks';
export const FRAMEWORK_NAME = 'tessera-tasks';
/** Reported in /master/state and leader_info. */
export const MASTER_VERSION = '0.1.0';
