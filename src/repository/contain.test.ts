import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containedRealPath, namedPath } from './contain.js';

const place = { model: 'm', repoDir: '/repo', modelDir: '/repo/m' };

test('namedPath: plain relative names resolve under the base', () => {
  assert.equal(namedPath(place, 'f', 'model.onnx', '/repo/m/1'), '/repo/m/1/model.onnx');
  assert.equal(namedPath(place, 'f', './sub/model.onnx', '/repo/m/1'), '/repo/m/1/sub/model.onnx');
  assert.equal(namedPath(place, 'f', 'labels.txt', '/repo/m'), '/repo/m/labels.txt');
});

test('namedPath: .., absolute paths and NUL are refused, naming the model and the field', () => {
  const cases: [string, RegExp][] = [
    ['../x', /'\.\.'/], ['a/../../x', /'\.\.'/], ['a/..', /'\.\.'/], ['..\\x', /'\.\.'/],
    ['/etc/passwd', /absolute/], ['\\\\server\\share', /absolute/], ['C:/x', /absolute/], ['a\0b', /NUL/],
  ];
  for (const [value, re] of cases) {
    assert.throws(() => namedPath(place, 'label_filename', value, '/repo/m'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /model 'm': label_filename/);
      assert.match(e.message, re);
      return true;
    }, value);
  }
});

test('containedRealPath: symlinks may stay in the model or the repository, not leave it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'duet-contain-'));
  try {
    const repo = join(root, 'repo');
    await mkdir(join(repo, 'm'), { recursive: true });
    await mkdir(join(repo, 'other'));
    await writeFile(join(repo, 'other', 'labels.txt'), 'a\n');
    await writeFile(join(root, 'secret'), 's\n');
    await symlink('../other/labels.txt', join(repo, 'm', 'in'));
    await symlink(join(root, 'secret'), join(repo, 'm', 'out'));
    const p = { model: 'm', repoDir: repo, modelDir: join(repo, 'm') };
    assert.equal(await containedRealPath(p, 'f', join(repo, 'm', 'in')), join(repo, 'other', 'labels.txt'));
    await assert.rejects(containedRealPath(p, 'label_filename', join(repo, 'm', 'out')), /model 'm': label_filename 'out' is a symlink that leads outside/);
    await assert.rejects(containedRealPath(p, 'f', join(repo, 'm', 'missing')), { code: 'ENOENT' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
