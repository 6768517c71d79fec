import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NotFoundError, TesseraError, statusForCode } from '../../common/index.js';
import { parseReadQuery, readSandboxFile } from './files.js';

describe('agent /files/read confinement', () => {
  let base: string;
  let root: string;
  let sandbox: string;
  let outside: string;

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'tessera-files-'));
    root = path.join(base, 'sandboxes');
    sandbox = path.join(root, 'c1');
    await mkdir(sandbox, { recursive: true });
    await writeFile(path.join(sandbox, 'stdout'), 'hello world\n');
    outside = path.join(base, 'secret');
    await writeFile(outside, 'top secret\n');
    await symlink(outside, path.join(sandbox, 'escape'));
    await symlink(base, path.join(sandbox, 'up'));
    await symlink(path.join(sandbox, 'stdout'), path.join(sandbox, 'inner-link'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const read = (file: string, offset = 0, length?: number) => readSandboxFile(root, { path: file, offset, length });

  async function assertForbidden(file: string): Promise<void> {
    await assert.rejects(read(file), (err: unknown) => err instanceof TesseraError && err.code === 'FORBIDDEN' && statusForCode(err.code) === 403);
  }

  it('reads a sandbox file with offset and length, and reports the size for offset -1', async () => {
    assert.deepEqual(await read(path.join(sandbox, 'stdout')), { data: 'hello world\n', offset: 0 });
    assert.deepEqual(await read(path.join(sandbox, 'stdout'), 6, 5), { data: 'world', offset: 6 });
    assert.deepEqual(await read(path.join(sandbox, 'stdout'), -1), { data: '', offset: 12 });
    assert.deepEqual(await read(path.join(sandbox, 'stdout'), 100), { data: '', offset: 100 });
    assert.deepEqual(await read(path.join(sandbox, 'inner-link')), { data: 'hello world\n', offset: 0 });
  });

  it('refuses ../ traversal out of the sandboxes', async () => {
    await assertForbidden(path.join(sandbox, '..', '..', 'secret'));
    await assertForbidden(`${sandbox}/../../secret`);
  });

  it('refuses an absolute path outside the sandboxes', async () => {
    await assertForbidden(outside);
    await assertForbidden('/etc/passwd');
  });

  it('refuses a symlink that points outside (file or directory)', async () => {
    await assertForbidden(path.join(sandbox, 'escape'));
    await assertForbidden(path.join(sandbox, 'up', 'secret'));
  });

  it('answers 404 for a missing file inside', async () => {
    await assert.rejects(read(path.join(sandbox, 'nope')), NotFoundError);
  });

  it('validates the query', () => {
    assert.deepEqual(parseReadQuery({ path: '/a', offset: '-1' }), { path: '/a', offset: -1, length: undefined });
    assert.throws(() => parseReadQuery({}), /path/);
    assert.throws(() => parseReadQuery({ path: '/a', offset: 'x' }), /offset/);
    assert.throws(() => parseReadQuery({ path: '/a', offset: '-2' }), /offset/);
  });

  it('does not split a multi-byte character between reads', async () => {
    await writeFile(path.join(sandbox, 'utf8'), 'aé€b');
    const first = await read(path.join(sandbox, 'utf8'), 0, 3); // 'a' + 2 bytes of 'é' + … fits 'aé'
    assert.equal(first.data, 'aé');
    const second = await read(path.join(sandbox, 'utf8'), 1, 3); // 'é' + first byte of '€' → only 'é'
    assert.equal(second.data, 'é');
  });
});
