// Dynamic batching: concurrent callers each get exactly their own rows back, whatever batches
// they were grouped into; requests that differ beyond dim 0 are never mixed.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceClient } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { PROTOCOLS, scratchRepo, startTestServer, withoutBatching } from './harness.js';

const BATCH_PROBE = `
// Echoes X and reports, per row, how many requests and which widths shared its execute() call.
export default class BatchProbe {
  execute(requests: any[]) {
    const widths = [...new Set(requests.map((r) => r.inputs.X.shape[1]))];
    return requests.map((r) => {
      const x = r.inputs.X;
      const rows = x.shape[0];
      return { outputs: [
        { name: 'Y', datatype: 'FP32', shape: x.shape, data: x.typed() },
        { name: 'REQUESTS', datatype: 'INT32', shape: [rows, 1], data: new Int32Array(rows).fill(requests.length) },
        { name: 'WIDTHS', datatype: 'INT32', shape: [rows, 1], data: new Int32Array(rows).fill(widths.length) },
      ] };
    });
  }
}
`;

const PROBE_CONFIG = `
name: "batch_probe"
backend: "typescript"
max_batch_size: 16
input [ { name: "X", data_type: TYPE_FP32, dims: [ -1 ] } ]
output [
  { name: "Y", data_type: TYPE_FP32, dims: [ -1 ] },
  { name: "REQUESTS", data_type: TYPE_INT32, dims: [ 1 ] },
  { name: "WIDTHS", data_type: TYPE_INT32, dims: [ 1 ] }
]
dynamic_batching { max_queue_delay_microseconds: 5000 }
`;

let server: RunningServer;
let repo: Awaited<ReturnType<typeof scratchRepo>>;

before(async () => {
  repo = await scratchRepo(['my_model', 'simple', 'identity_fp32', 'identity_bytes']);
  // Turn dynamic batching on for the copies.
  for (const m of ['my_model', 'simple', 'identity_fp32', 'identity_bytes']) {
    const p = join(repo.dir, m, 'config.pbtxt');
    await writeFile(p, `${withoutBatching(await readFile(p, 'utf8'))}\ndynamic_batching { max_queue_delay_microseconds: 2000 }\n`);
  }
  await mkdir(join(repo.dir, 'batch_probe', '1'), { recursive: true });
  await writeFile(join(repo.dir, 'batch_probe', 'config.pbtxt'), PROBE_CONFIG);
  await writeFile(join(repo.dir, 'batch_probe', '1', 'model.ts'), BATCH_PROBE);
  server = await startTestServer(repo.dir);
});
after(async () => {
  await server.stop();
  await repo.cleanup();
});

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    test('200 concurrent callers with mixed batch sizes and mixed models each get their own rows', async () => {
      const rand = rng(proto.name === 'http' ? 7 : 11);
      const calls = Array.from({ length: 200 }, async (_, k) => {
        const rows = 1 + Math.floor(rand() * 4);
        const which = k % 3;
        if (which === 0) {
          const x = Float32Array.from({ length: rows * 128 }, (_, i) => (k * 1000 + Math.floor(i / 128)) / 8);
          const r = await c.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, 128], data: x }]);
          const out = r.output('OUTPUT0');
          assert.deepEqual(out.shape, [rows, 1]);
          assert.deepEqual(Array.from(out.typed<Float32Array>()), Array.from({ length: rows }, (_, b) => 128 * (k * 1000 + b) / 8), `caller ${k}`);
        } else if (which === 1) {
          const a = Int32Array.from({ length: rows * 16 }, (_, i) => k * 100 + i);
          const b = Int32Array.from({ length: rows * 16 }, (_, i) => i % 7);
          const r = await c.infer('simple', [
            { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: a },
            { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: b },
          ]);
          assert.deepEqual(Array.from(r.output('OUTPUT0').typed<Int32Array>()), Array.from(a, (v, i) => v + b[i]), `caller ${k}`);
          assert.deepEqual(Array.from(r.output('OUTPUT1').typed<Int32Array>()), Array.from(a, (v, i) => v - b[i]), `caller ${k}`);
        } else {
          const width = 1 + (k % 5);
          const x = Float32Array.from({ length: rows * width }, (_, i) => k + i / 1000);
          const r = await c.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, width], data: x }]);
          assert.deepEqual(r.output('OUTPUT0').shape, [rows, width]);
          assert.deepEqual(Array.from(r.output('OUTPUT0').typed<Float32Array>()), Array.from(x), `caller ${k}`);
        }
      });
      await Promise.all(calls);
    });

    test('BYTES requests batch and split back element-exactly', async () => {
      const calls = Array.from({ length: 60 }, async (_, k) => {
        const rows = 1 + (k % 3);
        const els = Array.from({ length: rows * 2 }, (_, i) => `caller ${k} element ${i} ${'x'.repeat(k % 7)}`);
        const r = await c.infer('identity_bytes', [{ name: 'INPUT0', datatype: 'BYTES', shape: [rows, 2], data: els }]);
        assert.deepEqual(r.output('OUTPUT0').strings(), els);
      });
      await Promise.all(calls);
    });

    test('requests are really grouped under load, and never with a different width', async () => {
      const results = await Promise.all(Array.from({ length: 64 }, async (_, k) => {
        const width = k % 2 === 0 ? 3 : 5;
        const x = Float32Array.from({ length: width }, (_, i) => k * 10 + i);
        const r = await c.infer('batch_probe', [{ name: 'X', datatype: 'FP32', shape: [1, width], data: x }]);
        assert.deepEqual(Array.from(r.output('Y').typed<Float32Array>()), Array.from(x));
        return { requests: r.output('REQUESTS').typed<Int32Array>()[0], widths: r.output('WIDTHS').typed<Int32Array>()[0] };
      }));
      assert.ok(results.some((r) => r.requests > 1), `no batch held more than one request: ${JSON.stringify(results.map((r) => r.requests))}`);
      assert.ok(results.every((r) => r.widths === 1), 'a batch mixed widths');
      assert.ok(results.every((r) => r.requests <= 16), 'a batch exceeded max_batch_size');
    });
  });
}
