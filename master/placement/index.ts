// The public face of master/placement/.
export type { Placement, PlacementAgent, PlacementRequest, ScalarResources } from './placement.js';
export {
  NO_RESOURCES,
  addResources,
  canRun,
  fits,
  freeResources,
  placeTasks,
  scalar,
  sumResources,
} from './placement.js';
