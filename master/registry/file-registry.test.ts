import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRegistry, type RegistryState } from './index.js';

const state: RegistryState = {
  agents: [
    {
      id: 'agent-1',
      registered_at: 1700000000.5,
      info: {
        hostname: 'h1',
        ip: '127.0.0.1',
        port: 5051,
        resources: { cpus: 2, mem: 1024 },
        executors: ['command'],
        isolation: 'posix',
      },
    },
  ],
  tasks: [
    {
      task_id: 'web.abc',
      submitted_at: 1700000001,
      submission: { name: 'web', resources: { cpus: 1, mem: 64 }, command: { value: 'sleep 1' } },
    },
    {
      task_id: 'db.def',
      submitted_at: 1700000002,
      agent_id: 'agent-1',
      submission: { name: 'db', resources: { cpus: 1, mem: 128 }, command: { value: 'sleep 9' } },
    },
  ],
  frameworks: [{ id: 'fw-1', name: 'chronos', user: 'root', role: '*', failover_timeout: 60, registered_at: 1700000003 }],
};

describe('FileRegistry', () => {
  let workDir: string;
  beforeEach(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'tessera-registry-'));
  });
  afterEach(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('loads an empty state when nothing was saved', async () => {
    const registry = await FileRegistry.create({ workDir });
    assert.deepEqual(await registry.load(), { agents: [], tasks: [], frameworks: [] });
  });

  it('saves to <workDir>/master/registry.json and a new instance reloads it', async () => {
    const registry = await FileRegistry.create({ workDir });
    await registry.save(state);
    assert.equal(registry.path, join(workDir, 'master', 'registry.json'));
    const again = await FileRegistry.create({ workDir });
    assert.deepEqual(await again.load(), state);
  });

  it('replaces the file whole through a temp file that does not stay behind', async () => {
    const registry = await FileRegistry.create({ workDir });
    const saves = [];
    for (let i = 0; i < 20; i++) {
      saves.push(registry.save({ agents: state.agents, tasks: state.tasks.map((p) => ({ ...p, task_id: `t${i}` })), frameworks: [] }));
    }
    await Promise.all(saves);
    assert.deepEqual(await readdir(join(workDir, 'master')), ['registry.json']);
    const loaded = await registry.load();
    assert.equal(loaded.tasks[0]?.task_id, 't19', 'the last save wins');
    const text = await readFile(registry.path, 'utf8');
    assert.equal(JSON.parse(text).version, 2);
  });

  it('keeps the old file when a write fails, and says so', async () => {
    const registry = await FileRegistry.create({ workDir });
    await registry.save(state);
    // A cyclic object cannot be serialised: the write fails before the rename.
    const cyclic = { agents: [], tasks: [] } as unknown as RegistryState & { self?: unknown };
    (cyclic.agents as unknown[]).push(cyclic);
    await assert.rejects(registry.save(cyclic), { code: 'REGISTRY_FAILED' });
    assert.deepEqual(await registry.load(), state);
    assert.deepEqual(await readdir(join(workDir, 'master')), ['registry.json']);
  });

  it('refuses to start from a damaged registry instead of forgetting agents', async () => {
    const registry = await FileRegistry.create({ workDir });
    await writeFile(registry.path, '{"version":1,"agents":[', 'utf8');
    await assert.rejects(registry.load(), { code: 'REGISTRY_FAILED' });
    await writeFile(registry.path, '{"version":2,"agents":[{"id":"x"}],"tasks":[]}', 'utf8');
    await assert.rejects(registry.load(), /info: is required|agents\.0\.info/);
  });

  it('reads a version 1 file (first slice): its pending submissions become tasks without an agent', async () => {
    const registry = await FileRegistry.create({ workDir });
    const v1 = { version: 1, agents: state.agents, pending: [state.tasks[0]] };
    await writeFile(registry.path, JSON.stringify(v1), 'utf8');
    assert.deepEqual(await registry.load(), { agents: state.agents, tasks: [state.tasks[0]], frameworks: [] });
  });
});
