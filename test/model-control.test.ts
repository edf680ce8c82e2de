// Model control as Triton has it, over every protocol: 'none' (the default) and 'poll' refuse load and
// unload with Triton's error; 'explicit' loads only --load-model at start; 'poll' follows the repository
// folders. In every mode a reload that fails leaves the loaded model serving.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import { MODEL_CONTROL_DISABLED } from '../src/dataplane.js';
import type { RunningServer } from '../src/server.js';
import { baseUrl, MODELS, PROTOCOLS, scratchRepo, serveScratch, startTestServer, type TestServerOptions } from './harness.js';

async function rejectsWith(p: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

/** my_model: the row sum of 128 ones. */
async function answers(c: InferenceClient, model = 'my_model'): Promise<void> {
  const x: InferInput = { name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(128).fill(1) };
  assert.deepEqual(Array.from((await c.infer(model, [x])).output('OUTPUT0').typed<Float32Array>()), [128]);
}

/** Polls `check` until it passes or `ms` pass; then fails with its last error. */
async function eventually(what: string, ms: number, check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: not so within ${ms} ms: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const DISABLED = new RegExp(MODEL_CONTROL_DISABLED.replace(/[/.]/g, '\\$&'));

/** Writes a file whole (write then rename), so a poll never sees half of it. */
async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

for (const proto of PROTOCOLS) {
  for (const mode of ['none', 'poll'] as const) {
    describe(`${proto.name}: model control mode ${mode} refuses load and unload`, { timeout: 60_000 }, () => {
      const s = serveScratch(['my_model', 'simple'], mode === 'none' ? {} : { modelControlMode: 'poll', repositoryPollSecs: 30 }, proto);

      test('every model loads at start', async () => {
        assert.deepEqual((await s.c.getModelRepositoryIndex({ ready: true })).map((e) => e.name), ['my_model', 'simple']);
      });

      test("load, load with a config, and unload answer UNAVAILABLE with Triton's message and change nothing", async () => {
        await rejectsWith(s.c.loadModel('my_model'), 'UNAVAILABLE', DISABLED);
        await rejectsWith(s.c.loadModel('my_model', { config: '{not json' }), 'UNAVAILABLE', DISABLED);
        await rejectsWith(s.c.unloadModel('my_model'), 'UNAVAILABLE', DISABLED);
        await rejectsWith(s.c.loadModel('no_such_model'), 'UNAVAILABLE', DISABLED);
        await answers(s.c);
        assert.equal(await s.c.isServerReady(), true);
      });
    });
  }

  describe(`${proto.name}: explicit mode`, { timeout: 60_000 }, () => {
    describe('without --load-model nothing loads at start', () => {
      const s = serveScratch(['my_model', 'simple'], { modelControlMode: 'explicit' }, proto);
      test('the index lists the models as not loaded; the server is ready; a load serves', async () => {
        const index = await s.c.getModelRepositoryIndex();
        assert.deepEqual(index.map((e) => [e.name, e.state, e.reason]), [['my_model', 'UNAVAILABLE', 'not loaded'], ['simple', 'UNAVAILABLE', 'not loaded']]);
        assert.equal(await s.c.isServerReady(), true);
        await s.c.loadModel('my_model');
        await answers(s.c);
        await s.c.unloadModel('my_model');
        assert.equal(await s.c.isModelReady('my_model'), false);
      });
      test('loading a name with no folder fails naming the model, never the server\'s paths', async () => {
        await assert.rejects(s.c.loadModel('no_such_model'), (e: Error) => {
          assert.match(e.message, /no model folder 'no_such_model' in the model repository/);
          assert.ok(!e.message.includes(s.repo.dir), e.message);
          return true;
        });
      });
    });

    describe('--load-model names what loads at start', () => {
      const s = serveScratch(['my_model', 'simple'], { modelControlMode: 'explicit', loadModels: ['my_model'] }, proto);
      test('only my_model is ready', async () => {
        assert.deepEqual((await s.c.getModelRepositoryIndex({ ready: true })).map((e) => e.name), ['my_model']);
        assert.equal(await s.c.isModelReady('simple'), false);
      });
    });

    describe('a reload that fails leaves the loaded model serving', () => {
      const s = serveScratch(['my_model'], { modelControlMode: 'explicit', loadModels: ['*'] }, proto);

      test('a config override that is not JSON: INVALID_ARGUMENT; my_model answers; the server stays ready', async () => {
        await rejectsWith(s.c.loadModel('my_model', { config: '{not json' }), 'INVALID_ARGUMENT', /my_model/, /JSON/);
        await answers(s.c);
        assert.equal(await s.c.isModelReady('my_model'), true);
        assert.equal(await s.c.isServerReady(), true);
        const index = await s.c.getModelRepositoryIndex();
        assert.deepEqual(index.map((e) => [e.name, e.version, e.state]), [['my_model', '1', 'READY']]);
      });

      test('a broken config file on disk: the reload fails, the old config keeps serving; a fix loads', async () => {
        const file = join(s.repo.dir, 'my_model', 'config.pbtxt');
        const good = await readFile(file, 'utf8');
        await writeFile(file, good.replace('dims: [ 128 ]', 'dims: [ 128 '));
        await rejectsWith(s.c.loadModel('my_model'), 'INVALID_ARGUMENT', /my_model/, /config\.pbtxt/);
        await answers(s.c);
        assert.equal((await s.c.getModelConfig('my_model')).max_batch_size, 8);
        await writeFile(file, good.replace('max_batch_size: 8', 'max_batch_size: 4'));
        await s.c.loadModel('my_model');
        assert.equal((await s.c.getModelConfig('my_model')).max_batch_size, 4);
        await answers(s.c);
      });
    });
  });

  describe(`${proto.name}: poll mode follows the repository`, { timeout: 90_000 }, () => {
    const s = serveScratch(['my_model'], { modelControlMode: 'poll', repositoryPollSecs: 0.2 }, proto);
    const cfgPath = () => join(s.repo.dir, 'added', 'config.pbtxt');

    test('a model folder added is loaded', async () => {
      // Built beside the repository's models under a hidden name, then moved in whole.
      await cp(join(MODELS, 'my_model'), join(s.repo.dir, '.added'), { recursive: true });
      const text = await readFile(join(s.repo.dir, '.added', 'config.pbtxt'), 'utf8');
      await writeFile(join(s.repo.dir, '.added', 'config.pbtxt'), text.replace('name: "my_model"', 'name: "added"'));
      await rename(join(s.repo.dir, '.added'), join(s.repo.dir, 'added'));
      await eventually('added is ready', 15_000, async () => answers(s.c, 'added'));
      assert.equal((await s.c.getModelConfig('added')).max_batch_size, 8);
    });

    test('a changed config is reloaded', async () => {
      await replaceFile(cfgPath(), (await readFile(cfgPath(), 'utf8')).replace('max_batch_size: 8', 'max_batch_size: 2'));
      await eventually('added reloaded with max_batch_size 2', 15_000, async () => {
        assert.equal((await s.c.getModelConfig('added')).max_batch_size, 2);
      });
      await answers(s.c, 'added');
    });

    test('a broken change leaves the old version serving', async () => {
      const good = await readFile(cfgPath(), 'utf8');
      await replaceFile(cfgPath(), good.replace('TYPE_FP32', 'TYPE_FLOAT99'));
      // Long enough for several polls to have seen (and failed to load) the broken file.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await s.c.getModelConfig('added')).max_batch_size, 2);
      await answers(s.c, 'added');
      assert.equal(await s.c.isServerReady(), true);
      const index = (await s.c.getModelRepositoryIndex()).filter((e) => e.name === 'added');
      assert.deepEqual(index.map((e) => e.state), ['READY']);
      // Fixed again: reloaded.
      await replaceFile(cfgPath(), good.replace('max_batch_size: 2', 'max_batch_size: 3'));
      await eventually('added reloaded with max_batch_size 3', 15_000, async () => {
        assert.equal((await s.c.getModelConfig('added')).max_batch_size, 3);
      });
    });

    test('a removed model folder is unloaded and leaves the index', async () => {
      await rm(join(s.repo.dir, 'added'), { recursive: true });
      await eventually('added is gone', 15_000, async () => {
        assert.deepEqual((await s.c.getModelRepositoryIndex()).map((e) => e.name), ['my_model']);
      });
      await rejectsWith(s.c.infer('added', []), 'NOT_FOUND', /added/);
      await answers(s.c);
      assert.equal(await s.c.isServerReady(), true);
    });
  });
}

describe('REST statuses of the reproductions', { timeout: 60_000 }, () => {
  const post = (s: RunningServer, path: string, body?: unknown) =>
    fetch(`${baseUrl(s)}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  for (const [mode, opts, status] of [['none', {}, 503], ['explicit', { modelControlMode: 'explicit', loadModels: ['*'] }, 400]] as const) {
    test(`mode ${mode}: a load of my_model with config "{not json" is ${status}; my_model keeps answering; the server stays ready`, async () => {
      const repo = await scratchRepo(['my_model']);
      const server = await startTestServer(repo.dir, opts as TestServerOptions);
      try {
        const res = await post(server, '/v2/repository/models/my_model/load', { parameters: { config: '{not json' } });
        assert.equal(res.status, status);
        const x = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Array(128).fill(1) }] };
        const infer = await post(server, '/v2/models/my_model/infer', x);
        assert.equal(infer.status, 200);
        assert.equal((await fetch(`${baseUrl(server)}/v2/health/ready`)).status, 200);
      } finally {
        await server.stop();
        await repo.cleanup();
      }
    });
  }
});
