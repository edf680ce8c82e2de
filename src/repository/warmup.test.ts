import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyDefaults, parseModelConfig } from './config.js';
import { unhonouredOptimizations, warmupSamples } from './warmup.js';

async function withModel(fn: (modelDir: string, repoDir: string) => Promise<void>): Promise<void> {
  const repoDir = await mkdtemp(join(tmpdir(), 'duet-warmup-'));
  const modelDir = join(repoDir, 'm');
  await mkdir(join(modelDir, 'warmup'), { recursive: true });
  try {
    await fn(modelDir, repoDir);
  } finally {
    await rm(repoDir, { recursive: true, force: true });
  }
}

const config = (mbs: number, warmup: string) => applyDefaults(parseModelConfig(`max_batch_size: ${mbs}\nmodel_warmup [ ${warmup} ]`, 'pbtxt', 'config.pbtxt'), 'm');

test('samples: batch_size requests of batch 1, runs from count, zero/random/file data, batch 0 skipped', async () => {
  await withModel(async (modelDir, repoDir) => {
    await writeFile(join(modelDir, 'warmup', 'ids.bin'), new Uint8Array(new BigInt64Array([7n, 8n, 9n]).buffer));
    await writeFile(join(modelDir, 'warmup', 'text.bin'), Buffer.from([2, 0, 0, 0, 104, 105]));
    const samples = await warmupSamples(config(8, `
      { name: "skipped" batch_size: 0 inputs { key: "A" value { data_type: TYPE_FP32 dims: 1 zero_data: true } } },
      { name: "mixed" batch_size: 3 count: 2 inputs [
        { key: "Z" value { data_type: TYPE_FP32 dims: [ 2, 2 ] zero_data: true } },
        { key: "R" value { data_type: TYPE_BOOL dims: 64 random_data: true } },
        { key: "S" value { data_type: TYPE_STRING dims: 2 random_data: true } },
        { key: "I" value { data_type: TYPE_INT64 dims: 2 input_data_file: "ids.bin" } },
        { key: "T" value { data_type: TYPE_STRING dims: 1 input_data_file: "text.bin" } }
      ] }`), { model: 'm', repoDir, modelDir });
    assert.deepEqual(samples.map((s) => [s.name, s.runs, s.requests.length]), [['mixed', 2, 3]]);
    const byName = Object.fromEntries(samples[0]!.requests[0]!.map((t) => [t.name, t]));
    assert.deepEqual(byName.Z!.shape, [1, 2, 2]);
    assert.deepEqual([...byName.Z!.data], new Array(16).fill(0));
    assert.ok([...byName.R!.data].every((b) => b === 0 || b === 1), 'random BOOL holds 0 and 1 only');
    assert.deepEqual([...byName.S!.data], new Array(8).fill(0), 'random BYTES are empty elements, as in Triton');
    assert.deepEqual([...new BigInt64Array(byName.I!.data.slice().buffer)], [7n, 8n], 'a file longer than needed gives its first bytes');
    assert.deepEqual([...byName.T!.data], [2, 0, 0, 0, 104, 105]);
  });
});

test('a non-batching model gets the dims as written; problems name the sample', async () => {
  await withModel(async (modelDir, repoDir) => {
    const place = { model: 'm', repoDir, modelDir };
    const [s] = await warmupSamples(config(0, '{ batch_size: 1 inputs { key: "A" value { data_type: TYPE_INT8 dims: 3 zero_data: true } } }'), place);
    assert.equal(s!.name, '#1');
    assert.deepEqual(s!.requests[0]![0]!.shape, [3]);
    const fails = (mbs: number, warmup: string, message: RegExp) => assert.rejects(warmupSamples(config(mbs, warmup), place), { message });
    await fails(0, '{ name: "w" batch_size: 2 }', /^model_warmup sample 'w': batch_size 2 needs a model that batches/);
    await fails(2, '{ name: "w" batch_size: 4 }', /^model_warmup sample 'w': batch_size 4 is larger than max_batch_size 2$/);
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { data_type: TYPE_FP32 dims: -1 zero_data: true } } }',
      /^model_warmup sample 'w': input 'A': dims \[-1\] must all be known/);
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { dims: 1 zero_data: true } } }',
      /^model_warmup sample 'w': input 'A': unsupported data_type 'TYPE_INVALID'/);
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { data_type: TYPE_FP32 dims: 1 } } }',
      /^model_warmup sample 'w': input 'A' sets none of zero_data, random_data, input_data_file$/);
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { data_type: TYPE_FP32 dims: 1 input_data_file: "none.bin" } } }',
      /^model_warmup sample 'w': input 'A': file 'none.bin' not found in the model's warmup\/ folder$/);
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { data_type: TYPE_FP32 dims: [ 100000, 100000 ] zero_data: true } } }',
      /^model_warmup sample 'w': input 'A': dims \[100000,100000\] need 40000000000 bytes, above the limit of 268435456$/);
    await writeFile(join(modelDir, 'warmup', 'short.bin'), new Uint8Array(3));
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { data_type: TYPE_FP32 dims: 1 input_data_file: "short.bin" } } }',
      /^model_warmup sample 'w': input 'A': needs 4 bytes but 'short.bin' holds 3$/);
    await fails(2, '{ name: "w" batch_size: 1 inputs { key: "A" value { data_type: TYPE_FP32 dims: 1 input_data_file: "/etc/passwd" } } }',
      /model_warmup sample 'w' input 'A' input_data_file '\/etc\/passwd' is an absolute path/);
  });
});

test('optimization settings Duet does not apply are named', () => {
  const cfg = applyDefaults(parseModelConfig(`
    optimization {
      execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] cpu_execution_accelerator { name: "openvino" } }
      cuda { graphs: true busy_wait_events: false }
      priority: PRIORITY_MAX
      eager_batching: true
    }`, 'pbtxt', 'config.pbtxt'), 'm');
  assert.deepEqual(unhonouredOptimizations(cfg), [
    "optimization.execution_accelerators.gpu_execution_accelerator 'tensorrt'",
    "optimization.execution_accelerators.cpu_execution_accelerator 'openvino'",
    'optimization.priority PRIORITY_MAX',
    'optimization.cuda.graphs',
    'optimization.eager_batching',
  ]);
  // The defaults (pinned memory on) are not reported.
  assert.deepEqual(unhonouredOptimizations(applyDefaults(parseModelConfig('', 'pbtxt', 'config.pbtxt'), 'm')), []);
});
