// Every KServe datatype through identity_<t>, as JSON and as binary, over every protocol.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataType } from '../src/core/datatypes.js';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { PROTOCOLS, startTestServer } from './harness.js';

let server: RunningServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

const u8 = (...b: number[]) => Uint8Array.from(b);
const f32bits = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

// Values chosen to break lossy paths: extremes, beyond 2^53, negative zero, NaN payloads.
const CASES: [string, DataType, InferInput['data'], boolean][] = [
  ['bool', 'BOOL', [true, false, true, true], true],
  ['int8', 'INT8', Int8Array.of(-128, -1, 0, 127), true],
  ['int16', 'INT16', Int16Array.of(-32768, -1, 0, 32767), true],
  ['int32', 'INT32', Int32Array.of(-2147483648, -1, 0, 2147483647), true],
  ['int64', 'INT64', BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, -1n, 2n ** 63n - 1n), true],
  ['uint8', 'UINT8', Uint8Array.of(0, 1, 128, 255), true],
  ['uint16', 'UINT16', Uint16Array.of(0, 1, 32768, 65535), true],
  ['uint32', 'UINT32', Uint32Array.of(0, 1, 2147483648, 4294967295), true],
  ['uint64', 'UINT64', BigUint64Array.of(0n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n), true],
  ['fp16', 'FP16', Uint16Array.of(0x3c00, 0xc000, 0x8000, 0x7bff), true], // 1, -2, -0, 65504
  ['fp32', 'FP32', Float32Array.of(1.5, -0, 3.4028234663852886e38, 1e-45), true],
  ['fp64', 'FP64', Float64Array.of(Math.PI, -0, Number.MAX_VALUE, 5e-324), true],
  ['bytes', 'BYTES', ['hello', '', 'ünïcödé', 'a b\tc'], true],
];

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    for (const [t, datatype, data] of CASES) {
      for (const binary of [false, true]) {
        test(`identity_${t} round-trips ${datatype} (${binary ? 'binary' : 'JSON'})`, async () => {
          const input: InferInput = { name: 'INPUT0', datatype, shape: [2, 2], data };
          const r = await c.infer(`identity_${t}`, [input], { binary });
          const out = r.output('OUTPUT0');
          assert.equal(out.datatype, datatype);
          assert.deepEqual(out.shape, [2, 2]);
          if (datatype === 'BYTES') assert.deepEqual(out.strings(), data);
          else if (datatype === 'BOOL') assert.deepEqual(out.values(), data);
          else assert.deepEqual(Buffer.from(out.data).toString('hex'), Buffer.from((data as Uint8Array).buffer).toString('hex'));
        });
      }
    }

    test('FP16 JSON values are converted to and from numbers', async () => {
      const r = await c.infer('identity_fp16', [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 4], data: [1, -2.5, 0.333251953125, 65504] }], { binary: false });
      assert.deepEqual(r.output('OUTPUT0').values(), [1, -2.5, 0.333251953125, 65504]);
    });

    test('INT64 and UINT64 stay exact beyond 2^53 given as bigint', async () => {
      const big = [2n ** 62n + 1n, -(2n ** 63n) + 3n];
      const r = await c.infer('identity_int64', [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 2], data: big }], { binary: false });
      assert.deepEqual(r.output('OUTPUT0').values(), big);
      const u = [2n ** 64n - 2n, 9007199254740993n];
      const ru = await c.infer('identity_uint64', [{ name: 'INPUT0', datatype: 'UINT64', shape: [1, 2], data: u }], { binary: false });
      assert.deepEqual(ru.output('OUTPUT0').values(), u);
    });

    test('binary keeps NaN payloads and signed zeros bit-exact (FP32, FP64, FP16)', async () => {
      const f = f32bits(0x7fc00123, 0xffc0beef, 0x7f800001, 0x80000000);
      const r = await c.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: f }]);
      assert.deepEqual(Array.from(new Uint32Array(r.output('OUTPUT0').typed<Float32Array>().slice().buffer)), [0x7fc00123, 0xffc0beef, 0x7f800001, 0x80000000]);
      const d = new Float64Array(BigUint64Array.of(0x7ff8000000000abcn, 0x8000000000000000n).buffer);
      const rd = await c.infer('identity_fp64', [{ name: 'INPUT0', datatype: 'FP64', shape: [1, 2], data: d }]);
      assert.deepEqual(Array.from(new BigUint64Array(rd.output('OUTPUT0').typed<Float64Array>().slice().buffer)), [0x7ff8000000000abcn, 0x8000000000000000n]);
      const h = Uint16Array.of(0x7e01, 0xfc01, 0x8000);
      const rh = await c.infer('identity_fp16', [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 3], data: h }]);
      assert.deepEqual(Array.from(rh.output('OUTPUT0').typed<Uint16Array>()), [0x7e01, 0xfc01, 0x8000]);
    });

    test('BYTES are byte-exact in binary: empty, NUL bytes, invalid UTF-8', async () => {
      const els = [u8(), u8(0, 0, 0), u8(0xff, 0xfe, 0xc3, 0x28), u8(0x61, 0, 0x62)];
      const r = await c.infer('identity_bytes', [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], data: els }]);
      assert.deepEqual(r.output('OUTPUT0').bytes().map((b) => Buffer.from(b).toString('hex')), els.map((b) => Buffer.from(b).toString('hex')));
    });

    test('empty tensors (a zero-sized dimension) pass through', async () => {
      const r = await c.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 0], data: new Float32Array(0) }]);
      assert.deepEqual(r.output('OUTPUT0').shape, [1, 0]);
      assert.equal(r.output('OUTPUT0').data.byteLength, 0);
    });
  });
}
