// Every shell script of the project passes shellcheck, and the systemd units pass systemd-analyze.
// Scripts are found, not listed: under vagrant/, scripts/ and integration-tests/, a file is a script
// when it ends in .sh or starts with a sh/bash shebang.
import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { missingPart, onPath, REPO_ROOT, run, tail } from './run.js';

const SCRIPT_DIRS = ['vagrant', 'scripts', 'integration-tests'];
const SHEBANG = /^#!\s*(?:\/usr\/bin\/env\s+(?:-S\s+)?)?(?:\/usr)?(?:\/bin\/)?(?:ba|da)?sh\b/;

async function isScript(path: string): Promise<boolean> {
  if (path.endsWith('.sh')) return true;
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(64), 0, 64, 0);
    return SHEBANG.test(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await file.close();
  }
}

async function findScripts(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== '.vagrant') found.push(...(await findScripts(path)));
    } else if (entry.isFile() && (await isScript(path))) {
      found.push(path);
    }
  }
  return found;
}

describe('shell scripts and systemd units', function () {
  this.timeout(60_000);

  it('shellcheck passes on every script under vagrant/, scripts/ and integration-tests/', async function () {
    if (!(await onPath('shellcheck'))) return missingPart(this, 'no `shellcheck` on PATH (apt-get install shellcheck)');
    const scripts: string[] = [];
    for (const dir of SCRIPT_DIRS) scripts.push(...(await findScripts(join(REPO_ROOT, dir))));
    const names = scripts.map((path) => relative(REPO_ROOT, path)).sort();
    // The collection itself must work: these are known to exist.
    for (const known of ['vagrant/bin/tessera-serf', 'vagrant/provision/role.sh', 'scripts/setup-host.sh', 'integration-tests/vagrant/build-sshd-image.sh']) {
      assert.ok(names.includes(known), `${known} not collected; got ${names.join(', ')}`);
    }
    // -x follows `source`d files (their `# shellcheck source=` directives); paths relative to the repo.
    const result = await run('shellcheck', ['-x', '--format=gcc', ...names], { cwd: REPO_ROOT, timeoutMs: 50_000 });
    assert.equal(result.code, 0, `shellcheck found problems in ${names.length} scripts:\n${tail(result.output, 60)}`);
  });

  it('systemd-analyze verify passes on every unit in vagrant/systemd/', async function () {
    if (!(await onPath('systemd-analyze'))) return missingPart(this, 'no `systemd-analyze` on PATH (systemd)');
    const unitDir = join(REPO_ROOT, 'vagrant', 'systemd');
    const units = (await readdir(unitDir)).filter((name) => name.endsWith('.service')).sort();
    assert.ok(units.length >= 6, `units: ${units.join(', ')}`);
    // verify checks that ExecStart exists: point /opt/tessera at this checkout in a copy of the units.
    const dir = await mkdtemp(join(tmpdir(), 'tessera-units-'));
    try {
      for (const unit of units) {
        const text = await readFile(join(unitDir, unit), 'utf8');
        assert.match(text, /^ExecStart=\/opt\/tessera\/vagrant\/bin\/tessera-[a-z-]+$/m, `${unit}: ExecStart runs a vagrant/bin script`);
        assert.match(text, /^Restart=always$/m, `${unit}: Restart=always`);
        assert.match(text, /^EnvironmentFile=\/etc\/tessera\/node\.env$/m, `${unit}: reads node.env`);
        await writeFile(join(dir, unit), text.replaceAll('/opt/tessera/', REPO_ROOT));
      }
      const result = await run('systemd-analyze', ['verify', '--man=no', ...units.map((unit) => join(dir, unit))], {
        cwd: dir,
        timeoutMs: 30_000,
      });
      // Units it cannot see (docker.service where docker.io is absent) are not this check's business.
      const problems = result.output
        .split('\n')
        .filter((line) => line.trim() !== '' && !/docker\.service|Unit .* not found|Failed to .* dependency/.test(line));
      assert.deepEqual(problems, [], `systemd-analyze verify:\n${tail(result.output)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
