// Inference on the example models, over every protocol.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceClient } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { MODELS, PROTOCOLS, startTestServer } from './harness.js';

let server: RunningServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

const digits = JSON.parse(readFileSync(join(MODELS, 'digits', 'sample.json'), 'utf8')) as { inputs: number[][]; labels: number[] };
const NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    test('server and model health and metadata', async () => {
      assert.equal(await c.isServerLive(), true);
      assert.equal(await c.isServerReady(), true);
      assert.equal(await c.isModelReady('my_model'), true);
      assert.equal(await c.isModelReady('my_model', '1'), true);
      assert.equal(await c.isModelReady('my_model', '7'), false);
      assert.equal(await c.isModelReady('no_such_model'), false);
      const sm = await c.getServerMetadata();
      assert.equal(sm.name, 'duet');
      assert.ok(sm.extensions.includes('binary_tensor_data') && sm.extensions.includes('classification'));
      for (const version of [undefined, '1']) {
        const mm = await c.getModelMetadata('simple', version);
        assert.equal(mm.name, 'simple');
        assert.deepEqual(mm.versions, ['1']);
        assert.deepEqual(mm.inputs.map((i) => [i.name, i.datatype, i.shape]), [['INPUT0', 'INT32', [-1, 16]], ['INPUT1', 'INT32', [-1, 16]]]);
        assert.deepEqual(mm.outputs.map((i) => i.name), ['OUTPUT0', 'OUTPUT1']);
        const cfg = await c.getModelConfig('simple', version);
        assert.equal(cfg.name, 'simple');
        assert.equal(cfg.max_batch_size, 8);
        assert.deepEqual(cfg.input[0].dims, [16]);
        assert.equal(cfg.input[0].data_type, 'TYPE_INT32');
      }
    });

    for (const binary of [false, true]) {
      const enc = binary ? 'binary' : 'JSON';

      test(`my_model sums each row (${enc})`, async () => {
        const x = new Float32Array(3 * 128);
        for (let i = 0; i < x.length; i++) x[i] = (i % 128) * (1 + Math.floor(i / 128)) / 64;
        const r = await c.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [3, 128], data: x }], { binary, id: `req-${enc}` });
        assert.equal(r.modelName, 'my_model');
        assert.equal(r.modelVersion, '1');
        assert.equal(r.id, `req-${enc}`);
        const out = r.output('OUTPUT0');
        assert.deepEqual(out.shape, [3, 1]);
        assert.equal(out.datatype, 'FP32');
        const expected = [1, 2, 3].map((k) => (127 * 128) / 2 * k / 64);
        assert.deepEqual(Array.from(out.typed<Float32Array>()), expected);
      });

      test(`simple adds and subtracts with int32 wrap-around (${enc})`, async () => {
        const a = Int32Array.from({ length: 16 }, (_, i) => i);
        const b = Int32Array.from({ length: 16 }, () => 1);
        a[15] = 2147483647;
        a[14] = -2147483648;
        const r = await c.infer('simple', [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
        ], { binary });
        const sum = Array.from(r.output('OUTPUT0').typed<Int32Array>());
        const diff = Array.from(r.output('OUTPUT1').typed<Int32Array>());
        assert.deepEqual(sum.slice(0, 3), [1, 2, 3]);
        assert.equal(sum[15], -2147483648);
        assert.equal(diff[14], 2147483647);
        assert.deepEqual(r.outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
      });

      test(`requested outputs: only those, in the order asked (${enc})`, async () => {
        const a = Int32Array.from({ length: 16 }, (_, i) => i * 3);
        const b = Int32Array.from({ length: 16 }, (_, i) => i);
        const inputs = [
          { name: 'INPUT0', datatype: 'INT32' as const, shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32' as const, shape: [1, 16], data: b },
        ];
        const one = await c.infer('simple', inputs, { binary, outputs: ['OUTPUT1'] });
        assert.deepEqual(one.outputs.map((o) => o.name), ['OUTPUT1']);
        assert.deepEqual(Array.from(one.output('OUTPUT1').typed<Int32Array>()), Array.from(b, (v) => v * 2));
        const both = await c.infer('simple', inputs, { binary, outputs: ['OUTPUT1', 'OUTPUT0'] });
        assert.deepEqual(both.outputs.map((o) => o.name), ['OUTPUT1', 'OUTPUT0']);
      });

      test(`simple_string computes on ASCII decimals (${enc})`, async () => {
        const a = Array.from({ length: 16 }, (_, i) => String(i * 10));
        const b = Array.from({ length: 16 }, (_, i) => String(-i));
        const r = await c.infer('simple_string', [
          { name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: a },
          { name: 'INPUT1', datatype: 'BYTES', shape: [1, 16], data: b },
        ], { binary });
        assert.deepEqual(r.output('OUTPUT0').strings(), Array.from({ length: 16 }, (_, i) => String(i * 9)));
        assert.deepEqual(r.output('OUTPUT1').strings(), Array.from({ length: 16 }, (_, i) => String(i * 11)));
        assert.deepEqual(r.output('OUTPUT0').shape, [1, 16]);
      });

      test(`digits classifies held-out images, with labelled top-k (${enc})`, async () => {
        const n = digits.inputs.length;
        const x = Float32Array.from(digits.inputs.flat());
        const r = await c.infer('digits', [{ name: 'INPUT0', datatype: 'FP32', shape: [n, 64], data: x }], { binary });
        const logits = r.output('OUTPUT0').typed<Float32Array>();
        for (let i = 0; i < n; i++) {
          const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
          assert.equal(row.indexOf(Math.max(...row)), digits.labels[i], `image ${i}`);
        }
        const top = await c.infer('digits', [{ name: 'INPUT0', datatype: 'FP32', shape: [n, 64], data: x }], {
          binary, outputs: [{ name: 'OUTPUT0', classCount: 3 }],
        });
        const cls = top.output('OUTPUT0');
        assert.equal(cls.datatype, 'BYTES');
        assert.deepEqual(cls.shape, [n, 3]);
        const strs = cls.strings();
        for (let i = 0; i < n; i++) {
          const [value, index, label] = strs[i * 3].split(':');
          assert.equal(Number(index), digits.labels[i]);
          assert.equal(label, NAMES[digits.labels[i]]);
          assert.ok(Math.abs(Number(value) - Math.max(...logits.subarray(i * 10, i * 10 + 10))) < 1e-5);
          const values = strs.slice(i * 3, i * 3 + 3).map((s) => Number(s.split(':')[0]));
          assert.deepEqual(values, values.slice().sort((p, q) => q - p), 'top-k sorted by score');
        }
      });
    }

    test('resnet_mini takes a 1x3x224x224 image and answers 1000 scores', async () => {
      const img = new Float32Array(3 * 224 * 224);
      for (let i = 0; i < img.length; i++) img[i] = ((i * 7919) % 255) / 255;
      const r = await c.infer('resnet_mini', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3, 224, 224], data: img }]);
      const out = r.output('OUTPUT0');
      assert.deepEqual(out.shape, [1, 1000]);
      const v = out.typed<Float32Array>();
      assert.ok(v.every(Number.isFinite));
      // Same input, same answer: the model is deterministic.
      const again = await c.infer('resnet_mini', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3, 224, 224], data: img }]);
      assert.deepEqual(Array.from(again.output('OUTPUT0').typed<Float32Array>()), Array.from(v));
    });

    test('concurrent callers each get their own answer', async () => {
      const calls = Array.from({ length: 40 }, async (_, k) => {
        const x = new Float32Array(128).fill(k);
        const r = await c.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: x }], { binary: k % 2 === 0 });
        return r.output('OUTPUT0').typed<Float32Array>()[0];
      });
      assert.deepEqual(await Promise.all(calls), Array.from({ length: 40 }, (_, k) => k * 128));
    });
  });
}
