import assert from 'node:assert/strict';
import { progressLine, stepLabel, type AppSummary } from './apps.js';

const app: AppSummary = {
  id: '/web',
  instances: 3,
  cpus: 0.1,
  mem: 32,
  tasksRunning: 1,
  tasksStaged: 2,
  tasksHealthy: 1,
  tasksUnhealthy: 0,
  healthChecks: [{}],
  deployments: [{ id: 'd1' }],
};

describe('tessera apps: deployment progress', () => {
  it('shows the step under way when the services framework reports steps', () => {
    const deployment = {
      id: 'd1',
      affectedApps: ['/web'],
      currentStep: 2,
      totalSteps: 2,
      currentActions: [{ action: 'ScaleApplication', app: '/web' }],
    };
    assert.equal(progressLine(app, 'd1', deployment), 'deployment d1 (step 2/2 ScaleApplication): 1/3 running, 1 healthy, 2 staging');
  });

  it('still works without steps (an older framework, or the deployment just ended)', () => {
    assert.equal(stepLabel(undefined), '');
    assert.equal(stepLabel({ id: 'd1', affectedApps: [] }), '');
    assert.equal(progressLine({ ...app, healthChecks: [] }, 'd1'), 'deployment d1: 1/3 running, 2 staging');
  });
});
