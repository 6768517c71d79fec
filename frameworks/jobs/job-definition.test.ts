import assert from 'node:assert/strict';
import { ValidationError } from '../../common/index.js';
import { validateJob } from './job-definition.js';

const ok = { name: 'backup', command: 'echo hi', schedule: 'R/2024-01-01T00:00:00Z/PT1H' };

function rejects(body: unknown, kind: 'scheduled' | 'dependent', field: string): void {
  assert.throws(() => validateJob(body, kind), (e: unknown) => {
    assert.ok(e instanceof ValidationError, String(e));
    assert.equal(e.field, field, e.message);
    return true;
  });
}

describe('job definitions', () => {
  it('fills in Chronos defaults', () => {
    const job = validateJob(ok, 'scheduled');
    assert.equal(job.retries, 2);
    assert.equal(job.epsilon, 'PT60S');
    assert.equal(job.shell, true);
    assert.equal(job.cpus, 0.1);
  });

  it('accepts cron schedules and keeps unknown Chronos fields', () => {
    const job = validateJob({ ...ok, schedule: '*/5 * * * *', scheduleTimeZone: 'Europe/Berlin', async: false, owner: 'x@y' }, 'scheduled');
    assert.equal(job.owner, 'x@y');
  });

  it('names the field of each mistake', () => {
    rejects({ ...ok, schedule: 'R/nope/PT1H' }, 'scheduled', 'schedule');
    rejects({ ...ok, schedule: undefined }, 'scheduled', 'schedule');
    rejects({ ...ok, scheduleTimeZone: 'Nowhere/Land' }, 'scheduled', 'scheduleTimeZone');
    rejects({ ...ok, retries: -1 }, 'scheduled', 'retries');
    rejects({ ...ok, epsilon: '5 minutes' }, 'scheduled', 'epsilon');
    rejects({ ...ok, name: 'a b' }, 'scheduled', 'name');
    rejects({ ...ok, command: undefined }, 'scheduled', 'command');
    rejects({ ...ok, cpus: 0 }, 'scheduled', 'cpus');
    rejects({ ...ok, failureWebhook: 'ftp://x' }, 'scheduled', 'failureWebhook');
    rejects({ name: 'c', command: 'x' }, 'dependent', 'parents');
    rejects({ name: 'c', command: 'x', parents: ['c'] }, 'dependent', 'parents[0]');
    rejects({ name: 'c', command: 'x', parents: ['a'], schedule: 'R/2024-01-01T00:00:00Z/PT1H' }, 'dependent', 'schedule');
  });
});
