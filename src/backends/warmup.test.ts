import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { WarmupSample } from '../repository/warmup.js';
import type { ExecuteRequest, ModelInstance, StreamItem } from './backend.js';
import { warmUp } from './warmup.js';

const input: Tensor = { name: 'A', datatype: 'INT8', shape: [1, 2], data: new Uint8Array(2) };
const sample = (name: string, runs: number, batch: number): WarmupSample => ({ name, runs, requests: Array.from({ length: batch }, () => [input]) });

/** An instance that records what it was asked to run; `fail` makes execute answer an error for the last request. */
function fakeInstance(fail = false) {
  const batches: number[] = [];
  const streamed: number[] = [];
  const inst: ModelInstance = {
    name: 'm_0_0',
    loadResult: {},
    async execute(requests: ExecuteRequest[]) {
      batches.push(requests.length);
      return { results: requests.map((_, i) => (fail && i === requests.length - 1 ? new InferenceError('INTERNAL', 'boom') : [])) };
    },
    async *stream(request: ExecuteRequest): AsyncIterable<StreamItem> {
      streamed.push(request.inputs.length);
      yield { outputs: [] };
      yield { outputs: [] };
    },
    async close() {},
  };
  return { inst, batches, streamed };
}

test('each sample runs its batch `runs` times, in order', async () => {
  const f = fakeInstance();
  await warmUp(f.inst, [sample('a', 2, 3), sample('b', 1, 1)], false);
  assert.deepEqual(f.batches, [3, 3, 1]);
});

test('a decoupled model streams each request of the sample to its end', async () => {
  const f = fakeInstance();
  await warmUp(f.inst, [sample('a', 2, 2)], true);
  assert.deepEqual(f.streamed, [1, 1, 1, 1]);
  assert.deepEqual(f.batches, []);
});

test('a request that fails fails the warmup, naming the sample and the instance', async () => {
  await assert.rejects(warmUp(fakeInstance(true).inst, [sample('zeros', 1, 2)], false), {
    message: "model_warmup sample 'zeros' failed on instance m_0_0: boom",
  });
});
