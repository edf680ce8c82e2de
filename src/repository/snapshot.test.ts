import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listRepositories, repositoryOf } from './layout.js';
import { snapshotRepository } from './snapshot.js';

test('several repositories: one listing, one print per name, a name in two names both folders', async () => {
  const root = await mkdtemp(join(tmpdir(), 'duet-snap-'));
  try {
    const [a, b] = [join(root, 'a'), join(root, 'b')];
    for (const [repo, model] of [[a, 'x'], [a, 'both'], [b, 'y'], [b, 'both']]) {
      await mkdir(join(repo!, model!, '1'), { recursive: true });
      await writeFile(join(repo!, model!, 'config.pbtxt'), `name: "${model}"`);
    }
    assert.deepEqual(await listRepositories([a, b]), ['both', 'x', 'y']);
    assert.equal(await repositoryOf([a, b], 'y'), b);
    assert.equal(await repositoryOf([a, b], 'absent'), a, 'the first repository, for the missing-folder message');
    await assert.rejects(repositoryOf([a, b], 'both'), {
      message: `model 'both' is in more than one model repository: ${join(a, 'both')} and ${join(b, 'both')}`,
    });
    const before = await snapshotRepository([a, b]);
    assert.deepEqual([...before.keys()].sort(), ['both', 'x', 'y']);
    // A change to either copy of a clashing name changes its print, so a poll tries (and reports) it again.
    await writeFile(join(b, 'both', 'config.pbtxt'), 'name: "both" max_batch_size: 2');
    const after = await snapshotRepository([a, b]);
    assert.notEqual(after.get('both'), before.get('both'));
    assert.equal(after.get('x'), before.get('x'));
    await assert.rejects(listRepositories([a, join(root, 'missing')]), { code: 'ENOENT' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
