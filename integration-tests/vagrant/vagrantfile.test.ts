// The Vagrantfile as Debian's vagrant reads it: `vagrant validate -p` (provider config ignored: no
// hypervisor here) with the default counts and others, and the one-line refusals of bad settings.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPart, onPath, REPO_ROOT, run, tail, type RunResult } from './run.js';

describe('Vagrantfile (vagrant validate -p)', function () {
  this.timeout(60_000);
  let home: string;

  before(async function () {
    if (!(await onPath('vagrant'))) return missingPart(this, 'no `vagrant` on PATH (apt-get install vagrant)');
    home = await mkdtemp(join(tmpdir(), 'tessera-vagrant-validate-'));
  });

  after(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** `vagrant validate -p` in the repo with exactly these TESSERA_* settings (none inherited). */
  function validate(settings: Record<string, string>): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TESSERA_')) env[key] = value;
    Object.assign(env, settings, {
      VAGRANT_HOME: join(home, 'home'),
      VAGRANT_DOTFILE_PATH: join(home, 'dot'),
      VAGRANT_CHECKPOINT_DISABLE: '1',
      VAGRANT_CWD: REPO_ROOT,
    });
    return run('vagrant', ['validate', '-p', '--no-color'], { cwd: REPO_ROOT, env, timeoutMs: 45_000 });
  }

  /** The machines `validate` went through, in order. */
  function machines(result: RunResult): string[] {
    return [...result.stdout.matchAll(/^==> (\S+): Ignoring provider config/gm)].map((m) => m[1] ?? '');
  }

  it('passes with the default counts: 1 ZooKeeper, 3 masters, 3 agents', async () => {
    const result = await validate({});
    assert.equal(result.code, 0, tail(result.output));
    assert.match(result.stdout, /Vagrantfile validated successfully/);
    assert.deepEqual(machines(result), ['zk-1', 'master-1', 'master-2', 'master-3', 'agent-1', 'agent-2', 'agent-3']);
  });

  it('passes with other counts and the optional framework and test VMs', async () => {
    const result = await validate({ TESSERA_MASTERS: '1', TESSERA_AGENTS: '5', TESSERA_FRAMEWORKS: '1', TESSERA_TESTBOX: '1' });
    assert.equal(result.code, 0, tail(result.output));
    assert.deepEqual(machines(result), [
      'zk-1', 'master-1', 'agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5', 'frameworks', 'testbox',
    ]);
  });

  it('passes for the docker provider (the provisioning test) and per-role sizes', async () => {
    const result = await validate({
      TESSERA_PROVIDER: 'docker',
      TESSERA_DOCKER_IMAGE: 'tessera-test/vagrant-sshd:any',
      TESSERA_ZK: '3',
      TESSERA_AGENTS: '0',
      TESSERA_AGENT_MEMORY: '4096',
      TESSERA_BRIDGE: 'eth0',
    });
    assert.equal(result.code, 0, tail(result.output));
    assert.deepEqual(machines(result), ['zk-1', 'zk-2', 'zk-3', 'master-1', 'master-2', 'master-3']);
  });

  const refusals: Array<[string, Record<string, string>, RegExp]> = [
    ['a count that is not a number', { TESSERA_AGENTS: 'abc' }, /TESSERA_AGENTS="abc" is not valid: it must be a whole number from 0 to 50/],
    ['a negative count', { TESSERA_AGENTS: '-1' }, /TESSERA_AGENTS="-1" is not valid/],
    ['no master', { TESSERA_MASTERS: '0' }, /TESSERA_MASTERS="0" is not valid: it must be a whole number from 1/],
    ['an even ZooKeeper ensemble', { TESSERA_ZK: '2' }, /TESSERA_ZK=2: a ZooKeeper ensemble needs an odd number/],
    ['a frameworks count above 1', { TESSERA_FRAMEWORKS: '2' }, /TESSERA_FRAMEWORKS="2" is not valid: it must be a whole number from 0 to 1/],
    ['a bad memory size', { TESSERA_AGENT_MEMORY: '2G' }, /TESSERA_AGENT_MEMORY="2G" is not valid/],
    ['an unknown provider', { TESSERA_PROVIDER: 'hyperv' }, /TESSERA_PROVIDER="hyperv" is not valid/],
    ['the docker provider without an image', { TESSERA_PROVIDER: 'docker' }, /TESSERA_PROVIDER=docker needs TESSERA_DOCKER_IMAGE/],
  ];
  for (const [what, settings, message] of refusals) {
    it(`refuses ${what} with a one-line message`, async () => {
      const result = await validate(settings);
      assert.notEqual(result.code, 0, `validate passed with ${JSON.stringify(settings)}:\n${tail(result.output)}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^Vagrantfile: /m, 'the message names the Vagrantfile');
      assert.doesNotMatch(result.output, /Ruby|backtrace|\.rb:\d+/, 'no Ruby backtrace');
    });
  }
});
