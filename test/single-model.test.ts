// A model repository folder that is itself one model, as KServe's storage initializer leaves /mnt/models
// (issue 13 item 3): a bare model file, a model folder without version folders, a model folder with them.
// Each is served under --model-name (ServerOptions.modelName) over every protocol; a repository of model
// folders ignores the name; layouts that cannot be served fail at start saying why.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { MODELS, PROTOCOLS, startTestServer } from './harness.js';

let root: string;
const servers: Record<string, RunningServer> = {};

/** A fresh folder under the test's scratch root. */
async function folder(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

const digitsInput = (): InferInput => ({ name: 'INPUT0', datatype: 'FP32', shape: [1, 64], data: new Float32Array(64).fill(0.5) });
const ints = Array.from({ length: 16 }, (_, i) => i);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'duet-single-'));
  // KServe with storageUri .../model.onnx: the bare file, under whatever name it had.
  const bare = await folder('bare');
  await copyFile(join(MODELS, 'digits', '1', 'model.onnx'), join(bare, 'digits-v3.onnx'));
  // storageUri at a model folder whose version is the folder itself: config, labels and model.onnx side by side.
  const flat = await folder('flat');
  for (const f of ['config.pbtxt', 'labels.txt']) await copyFile(join(MODELS, 'digits', f), join(flat, f));
  await copyFile(join(MODELS, 'digits', '1', 'model.onnx'), join(flat, 'model.onnx'));
  // storageUri at a Triton model folder: config.pbtxt and 1/model.onnx.
  const versioned = await folder('versioned');
  await cp(join(MODELS, 'simple'), versioned, { recursive: true });
  // A repository of model folders: --model-name does not rename them. A helper module at its top is no model.
  const repo = await folder('repo');
  await cp(join(MODELS, 'simple'), join(repo, 'simple'), { recursive: true });
  await writeFile(join(repo, 'shared.ts'), 'export const shared = 1;\n');
  servers.bare = await startTestServer(bare, { modelName: 'mnist' });
  servers.flat = await startTestServer(flat, { modelName: 'digits-kserve' });
  servers.versioned = await startTestServer(versioned, { modelName: 'adder' });
  servers.repo = await startTestServer(repo, { modelName: 'ignored' });
});

after(async () => {
  for (const s of Object.values(servers)) await s.stop();
  await rm(root, { recursive: true, force: true });
});

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    const clients: InferenceClient[] = [];
    const client = (s: string) => {
      const c = proto.client(servers[s]);
      clients.push(c);
      return c;
    };
    after(async () => {
      for (const c of clients) await c.close();
    });

    test('a bare model file is one model under --model-name, version 1, its config completed from the file', async () => {
      const c = client('bare');
      assert.equal(await c.isServerReady(), true);
      assert.equal(await c.isModelReady('mnist'), true);
      const meta = await c.getModelMetadata('mnist');
      assert.equal(meta.name, 'mnist');
      assert.deepEqual(meta.versions, ['1']);
      assert.deepEqual((await c.getModelRepositoryIndex()).map((e) => [e.name, e.state]), [['mnist', 'READY']]);
      const r = await c.infer('mnist', [digitsInput()]);
      assert.deepEqual(r.output('OUTPUT0').shape, [1, 10]);
    });

    test('a model folder without version folders: its config (renamed), labels and model file, as version 1', async () => {
      const c = client('flat');
      const config = await c.getModelConfig('digits-kserve');
      assert.equal(config.name, 'digits-kserve');
      assert.equal(config.max_batch_size, 32);
      const r = await c.infer('digits-kserve', [digitsInput()], { outputs: [{ name: 'OUTPUT0', classCount: 1 }] });
      assert.match(r.output('OUTPUT0').strings()[0]!, /^[^:]+:\d:(zero|one|two|three|four|five|six|seven|eight|nine)$/);
    });

    test('a Triton model folder (config.pbtxt, 1/model.onnx) is served under --model-name', async () => {
      const c = client('versioned');
      const r = await c.infer('adder', [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(ints) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(ints, () => 1) },
      ]);
      assert.deepEqual(Array.from(r.output('OUTPUT0').typed() as Int32Array), ints.map((x) => x + 1));
      await assert.rejects(c.infer('simple', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(ints) }]), /simple/);
    });

    test('a repository of model folders keeps their names; --model-name is unused there', async () => {
      const c = client('repo');
      assert.deepEqual((await c.getModelRepositoryIndex()).map((e) => e.name), ['simple']);
      assert.equal(await c.isModelReady('ignored'), false);
    });
  });
}

describe('layouts that cannot be served fail at start, saying why', () => {
  const fails = async (dir: string, modelName: string | undefined, re: RegExp) => {
    await assert.rejects(startTestServer(dir, modelName === undefined ? {} : { modelName }), (e: Error) => {
      assert.match(e.message, re);
      return true;
    });
  };

  test('one model without --model-name: the message says which flag to give', async () => {
    const dir = await folder('unnamed');
    await copyFile(join(MODELS, 'digits', '1', 'model.onnx'), join(dir, 'model.onnx'));
    await fails(dir, undefined, /holds one model \(model file model\.onnx at its top\).*--model-name \(DUET_MODEL_NAME\)/);
  });

  test('several model files and no version folders', async () => {
    const dir = await folder('several');
    for (const f of ['a.onnx', 'b.onnx']) await copyFile(join(MODELS, 'digits', '1', 'model.onnx'), join(dir, f));
    await fails(dir, 'm', /several model files \(a\.onnx, b\.onnx\).*one model per folder/);
  });

  test('a config with neither version folders nor a model file', async () => {
    const dir = await folder('config-only');
    await writeFile(join(dir, 'config.pbtxt'), await readFile(join(MODELS, 'digits', 'config.pbtxt')));
    await fails(dir, 'm', /has a config\.pbtxt but no version folders \(1\/, 2\/, \.\.\.\) and no model file/);
  });

  test('two repositories that each hold one model: one --model-name cannot name both', async () => {
    const [a, b] = [await folder('two-a'), await folder('two-b')];
    for (const d of [a, b]) await copyFile(join(MODELS, 'digits', '1', 'model.onnx'), join(d, 'model.onnx'));
    await assert.rejects(startTestServer([a, b], { modelName: 'm' }), /--model-name names one model, but .*two-a and .*two-b each hold a single model/);
  });
});
