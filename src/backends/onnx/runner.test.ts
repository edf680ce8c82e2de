import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { elementSize } from '../../core/datatypes.js';
import { InferenceError } from '../../core/errors.js';
import type { ModelConfig } from '../../core/model-config.js';
import type { Tensor } from '../../core/tensor.js';
import type { ExecuteResult, LoadResult } from '../backend.js';
import { openDirect } from './direct.js';
import { OnnxRunner } from './runner.js';

const repo = join(import.meta.dirname, '..', '..', '..', '..', 'models');
const onnxModels = readdirSync(repo).filter((m) => /backend:\s*"onnxruntime"/.test(readFileSync(join(repo, m, 'config.pbtxt'), 'utf8')));

async function load(model: string, direct: boolean): Promise<{ runner: OnnxRunner; meta: LoadResult }> {
  const runner = new OnnxRunner({ direct });
  const versionDir = join(repo, model, '1');
  const meta = await runner.load({
    kind: 'onnxruntime', modelName: model, version: '1', modelDir: join(repo, model), versionDir,
    modelFile: join(versionDir, 'model.onnx'), config: { name: model } as ModelConfig, instanceName: `${model}_0`, gpu: false,
  });
  return { runner, meta };
}

/** Inputs at the model's shapes (a free first dimension as `rows`, other free ones 3), bytes in a pattern that differs per request. */
function inputsFor(meta: LoadResult, rows: number, seed: number): Tensor[] {
  return (meta.inputs ?? []).map((m) => {
    const shape = m.shape.map((d, i) => (d >= 0 ? d : i === 0 ? rows : 3));
    const n = shape.reduce((a, b) => a * b, 1) * elementSize(m.datatype);
    // Bytes 0..63 keep every float finite and every bool 0 or 1 once masked.
    const data = Uint8Array.from({ length: n }, (_, i) => (m.datatype === 'BOOL' ? (i + seed) & 1 : (i * 7 + seed) % 64));
    return { name: m.name, datatype: m.datatype, shape, data };
  });
}

const plain = (r: ExecuteResult[]) => r.map((x) => (x instanceof InferenceError ? `${x.code}` : x.map((t) => ({ ...t, data: Buffer.from(t.data).toString('hex') }))));

test('this onnxruntime-node has the native session where direct.ts looks (a version that moves it is caught here)', async () => {
  const { runner } = await load('my_model', true);
  const version = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  assert.equal(runner.direct, true, `onnxruntime-node ${version} has no native session at dist/binding.js: direct.ts needs updating`);
  await runner.close();
});

for (const model of onnxModels) {
  test(`${model}: direct runs load the same metadata and answer the same bytes as the public API`, async () => {
    const a = await load(model, true);
    const b = await load(model, false);
    try {
      assert.equal(a.runner.direct, true);
      assert.equal(b.runner.direct, false);
      assert.deepEqual(a.meta, b.meta);
      // One request, then two batched into one run where the model batches along dim 0.
      const one = [{ inputs: inputsFor(a.meta, 1, 3), parameters: {} }];
      const two = [{ inputs: inputsFor(a.meta, 1, 5), parameters: {} }, { inputs: inputsFor(a.meta, 2, 9), parameters: {} }];
      const rows = (a.meta.inputs ?? []).every((m) => m.shape[0] === -1);
      for (const reqs of rows ? [one, two] : [one]) {
        const got = await a.runner.execute(reqs);
        assert.ok(got.every((r) => !(r instanceof InferenceError)), `${model}: ${got.find((r) => r instanceof InferenceError)}`);
        assert.deepEqual(plain(got), plain(await b.runner.execute(reqs)));
      }
    } finally {
      await a.runner.close();
      await b.runner.close();
    }
  });
}

test('a run onnxruntime refuses is an INTERNAL error naming onnxruntime on both paths, and the session keeps serving', async () => {
  for (const direct of [true, false]) {
    const { runner, meta } = await load('my_model', direct);
    const bad: Tensor = { name: 'INPUT0', datatype: 'FP32', shape: [1, 127], data: new Uint8Array(127 * 4) };
    const [err] = await runner.execute([{ inputs: [bad], parameters: {} }]);
    assert.ok(err instanceof InferenceError, `direct=${direct}`);
    assert.equal(err.code, 'INTERNAL');
    assert.match(err.message, /^onnxruntime: .*(dimension|shape)/i);
    const [ok] = await runner.execute([{ inputs: inputsFor(meta, 1, 1), parameters: {} }]);
    assert.ok(Array.isArray(ok));
    await runner.close();
  }
});

test('openDirect falls back (undefined) when the binding is missing or not shaped as expected', () => {
  const file = join(repo, 'my_model', '1', 'model.onnx');
  assert.equal(openDirect(file, {}, () => undefined), undefined);
  let disposed = 0;
  const fake = (metadata: unknown, withRun = true) => ({
    initOrt() {},
    binding: {
      InferenceSession: class {
        loadModel() {}
        dispose() { disposed++; }
        get inputMetadata() { return metadata; }
        get outputMetadata() { return metadata; }
        declare run: unknown;
        constructor() { if (withRun) this.run = () => ({}); }
      },
    },
  });
  assert.equal(openDirect(file, {}, () => fake([{ name: 'x', isTensor: true, type: 1, shape: [1] }], false) as never), undefined);
  assert.equal(openDirect(file, {}, () => fake('not a list') as never), undefined);
  assert.equal(openDirect(file, {}, () => fake([{ name: 'x', isTensor: true }]) as never), undefined);
  assert.equal(disposed, 2);
  const ok = openDirect(file, {}, () => fake([{ name: 'x', isTensor: true, type: 1, shape: [-1, 4] }, { name: 'm', isTensor: false }]) as never);
  assert.deepEqual(ok?.inputMetadata, [{ name: 'x', isTensor: true, type: 'float32', shape: [-1, 4] }, { name: 'm', isTensor: false }]);
});
