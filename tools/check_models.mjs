// Check the example model repository (models/) with onnxruntime-node.
//
// For every model made by tools/make_simple_models.py, tools/train_digits.py
// and tools/make_resnet_mini.py this loads models/<name>/1/model.onnx, checks
// its input/output names, types and shapes against models/<name>/config.pbtxt
// (a symbolic "batch" dim 0 plus the config's dims), runs it and compares the
// outputs with the expected values:
//   my_model      row sums
//   simple        int32 sum / difference, including wrap-around on overflow
//   identity_<t>  bit-identical round trip (NaN payloads, -0.0, extremes)
//   digits        logits from PyTorch (tools/digits_expected.json) and the
//                 labels in models/digits/sample.json
//   resnet_mini   outputs from PyTorch (tools/resnet_mini_expected.json), plus
//                 a batch-1 CPU timing
//
// Run from the repository root:   node tools/check_models.mjs
// Exits 1 on any mismatch.

import * as ort from '../node_modules/onnxruntime-node/dist/index.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MODELS = path.join(ROOT, 'models');

let failures = 0;
function fail(msg) {
  failures++;
  console.log(`  FAIL ${msg}`);
}
function ok(msg) {
  console.log(`  ok   ${msg}`);
}
function check(cond, msg) {
  if (cond) ok(msg);
  else fail(msg);
}

const TRITON_TO_ORT = {
  TYPE_BOOL: 'bool',
  TYPE_INT8: 'int8',
  TYPE_INT16: 'int16',
  TYPE_INT32: 'int32',
  TYPE_INT64: 'int64',
  TYPE_UINT8: 'uint8',
  TYPE_UINT16: 'uint16',
  TYPE_UINT32: 'uint32',
  TYPE_UINT64: 'uint64',
  TYPE_FP16: 'float16',
  TYPE_FP32: 'float32',
  TYPE_FP64: 'float64',
};

// Just enough of the protobuf text format for our own configs.
function parseConfig(name) {
  const text = readFileSync(path.join(MODELS, name, 'config.pbtxt'), 'utf8');
  const section = (key) => {
    const m = text.match(new RegExp(`^${key} \\[\\n([\\s\\S]*?)\\n\\]`, 'm'));
    if (!m) throw new Error(`${name}: no ${key} section`);
    return [...m[1].matchAll(/name: "(\w+)"\s+data_type: (\w+)\s+dims: \[([^\]]*)\]/g)].map(
      (t) => ({ name: t[1], type: t[2], dims: t[3].split(',').map((d) => Number(d.trim())) }),
    );
  };
  return {
    name: text.match(/^name: "(\w+)"/m)?.[1],
    maxBatchSize: Number(text.match(/^max_batch_size: (\d+)/m)?.[1]),
    inputs: section('input'),
    outputs: section('output'),
    text,
  };
}

async function load(name) {
  console.log(`${name}`);
  const cfg = parseConfig(name);
  check(cfg.name === name, `config name "${cfg.name}"`);
  const session = await ort.InferenceSession.create(path.join(MODELS, name, '1', 'model.onnx'));
  const compare = (kind, meta, want) => {
    const names = meta.map((m) => m.name);
    check(
      JSON.stringify(names) === JSON.stringify(want.map((w) => w.name)),
      `${kind} names ${names.join(',')}`,
    );
    for (const w of want) {
      const m = meta.find((x) => x.name === w.name);
      if (!m) continue;
      const shape = ['batch', ...w.dims];
      const got = m.shape.map((d, i) => (typeof d === 'string' && shape[i] === -1 ? -1 : d));
      check(
        m.type === TRITON_TO_ORT[w.type] && JSON.stringify(got) === JSON.stringify(shape),
        `${w.name} ${m.type} [${m.shape.join(',')}] matches config ${w.type} [${w.dims.join(',')}]`,
      );
    }
  };
  compare('input', session.inputMetadata, cfg.inputs);
  compare('output', session.outputMetadata, cfg.outputs);
  return { session, cfg };
}

function bytesOf(typed) {
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}
function sameBytes(a, b) {
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
function maxAbsDiff(got, want) {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return Number.isNaN(m) ? Infinity : m;
}
function argmaxRows(data, rows, cols) {
  const out = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[r * cols + c] > data[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

async function checkMyModel() {
  const { session } = await load('my_model');
  const batch = 3;
  const x = new Float32Array(batch * 128);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 29) % 67) / 8 - 4; // exact in float32
  const { OUTPUT0 } = await session.run({ INPUT0: new ort.Tensor('float32', x, [batch, 128]) });
  check(JSON.stringify(OUTPUT0.dims) === JSON.stringify([batch, 1]), `OUTPUT0 dims [${OUTPUT0.dims}]`);
  const want = [];
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let j = 0; j < 128; j++) s += x[b * 128 + j];
    want.push(s);
  }
  check(maxAbsDiff(OUTPUT0.data, want) === 0, `row sums ${[...OUTPUT0.data]} == ${want}`);
}

async function checkSimple() {
  const { session } = await load('simple');
  const batch = 2;
  const a = new Int32Array(batch * 16);
  const b = new Int32Array(batch * 16);
  for (let i = 0; i < a.length; i++) {
    a[i] = i * 3 - 20;
    b[i] = 7 - i * 5;
  }
  // overflow cases
  a[0] = 2147483647; b[0] = 1;        // + wraps to -2147483648
  a[1] = -2147483648; b[1] = 1;       // - wraps to 2147483647
  a[2] = -2147483648; b[2] = -1;      // + wraps to 2147483647
  a[3] = 2147483647; b[3] = -1;       // - wraps to -2147483648
  const out = await session.run({
    INPUT0: new ort.Tensor('int32', a, [batch, 16]),
    INPUT1: new ort.Tensor('int32', b, [batch, 16]),
  });
  const sum = Int32Array.from(a, (v, i) => (v + b[i]) | 0);
  const diff = Int32Array.from(a, (v, i) => (v - b[i]) | 0);
  check(out.OUTPUT0.type === 'int32' && out.OUTPUT1.type === 'int32', 'outputs are int32');
  check(sameBytes(out.OUTPUT0.data, sum), 'OUTPUT0 = INPUT0 + INPUT1 (wrapping)');
  check(sameBytes(out.OUTPUT1.data, diff), 'OUTPUT1 = INPUT0 - INPUT1 (wrapping)');
  console.log(
    `  int32 overflow: 2147483647 + 1 = ${out.OUTPUT0.data[0]}, -2147483648 - 1 = ${out.OUTPUT1.data[1]}, ` +
      `-2147483648 + -1 = ${out.OUTPUT0.data[2]}, 2147483647 - -1 = ${out.OUTPUT1.data[3]}`,
  );
}

// identity_<t>: [ort type, typed-array constructor, data as raw values written through a view]
function identityData(t, count) {
  const u8 = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
  switch (t) {
    case 'bool':
      return new Uint8Array(Array.from({ length: count }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0));
    case 'int8': {
      const v = new Int8Array(u8(count).buffer);
      v[0] = -128; v[1] = 127; v[2] = -1;
      return v;
    }
    case 'uint8': {
      const v = u8(count);
      v[0] = 0; v[1] = 255;
      return v;
    }
    case 'int16': {
      const v = Int16Array.from({ length: count }, (_, i) => i * 1000 - 4000);
      v[0] = -32768; v[1] = 32767;
      return v;
    }
    case 'uint16': {
      const v = Uint16Array.from({ length: count }, (_, i) => i * 3001);
      v[0] = 65535;
      return v;
    }
    case 'int32': {
      const v = Int32Array.from({ length: count }, (_, i) => i * 100003 - 500000);
      v[0] = -2147483648; v[1] = 2147483647;
      return v;
    }
    case 'uint32': {
      const v = Uint32Array.from({ length: count }, (_, i) => i * 300007);
      v[0] = 4294967295;
      return v;
    }
    case 'int64': {
      const v = BigInt64Array.from({ length: count }, (_, i) => BigInt(i) * 1234567890123n - 5n);
      v[0] = -(2n ** 63n); v[1] = 2n ** 63n - 1n; v[2] = 2n ** 53n + 1n; // not a safe JS number
      return v;
    }
    case 'uint64': {
      const v = BigUint64Array.from({ length: count }, (_, i) => BigInt(i) * 9876543210987n);
      v[0] = 2n ** 64n - 1n; v[1] = 2n ** 53n + 1n;
      return v;
    }
    case 'fp16': {
      // raw IEEE half bits: 1.0, -0.0, +inf, NaN with payload, max, min subnormal, ...
      const bits = [0x3c00, 0x8000, 0x7c00, 0x7e01, 0x7bff, 0x0001, 0xfd23, 0xc500];
      return Uint16Array.from({ length: count }, (_, i) => bits[i % bits.length] ^ (i >= bits.length ? i : 0));
    }
    case 'fp32': {
      const bits = [0x7fc00123, 0x80000000, 0x3f800000, 0x7f800001, 0xffc0beef, 0x00000001, 0x7f7fffff, 0xff800000];
      const v = Uint32Array.from({ length: count }, (_, i) => bits[i % bits.length] + (i >= bits.length ? i << 8 : 0));
      return new Float32Array(v.buffer);
    }
    case 'fp64': {
      const v = new BigUint64Array(count);
      const bits = [0x7ff8000000000123n, 0x8000000000000000n, 0x3ff0000000000000n, 0x7ff0000000000001n, 0xfff800000000beefn, 1n];
      for (let i = 0; i < count; i++) v[i] = bits[i % bits.length] + (i >= bits.length ? BigInt(i) << 12n : 0n);
      return new Float64Array(v.buffer);
    }
  }
  throw new Error(t);
}

const ORT_TYPE = {
  bool: 'bool', int8: 'int8', int16: 'int16', int32: 'int32', int64: 'int64',
  uint8: 'uint8', uint16: 'uint16', uint32: 'uint32', uint64: 'uint64',
  fp16: 'float16', fp32: 'float32', fp64: 'float64',
};

async function checkIdentities() {
  for (const t of Object.keys(ORT_TYPE)) {
    const { session } = await load(`identity_${t}`);
    for (const dims of [[2, 8], [1, 1], [8, 3]]) {
      const data = identityData(t, dims[0] * dims[1]);
      const { OUTPUT0 } = await session.run({ INPUT0: new ort.Tensor(ORT_TYPE[t], data, dims) });
      check(
        OUTPUT0.type === ORT_TYPE[t] &&
          JSON.stringify(OUTPUT0.dims) === JSON.stringify(dims) &&
          sameBytes(OUTPUT0.data, data),
        `[${dims}] ${t} round trip is bit-identical`,
      );
      if (t === 'fp32' && dims[0] === 2) {
        const u = new Uint32Array(OUTPUT0.data.buffer, OUTPUT0.data.byteOffset, 2);
        console.log(`  fp32 NaN 0x7fc00123 -> 0x${u[0].toString(16)}, -0.0 (0x80000000) -> 0x${u[1].toString(16)}`);
      }
    }
    // zero-length second dim
    try {
      const data = identityData(t, 0);
      const { OUTPUT0 } = await session.run({ INPUT0: new ort.Tensor(ORT_TYPE[t], data, [2, 0]) });
      check(JSON.stringify(OUTPUT0.dims) === '[2,0]', `[2,0] empty tensor passes through`);
    } catch (e) {
      fail(`[2,0] empty tensor: ${e.message}`);
    }
  }
}

async function checkDigits() {
  const { session, cfg } = await load('digits');
  const labels = readFileSync(path.join(MODELS, 'digits', 'labels.txt'), 'utf8').trimEnd().split('\n');
  check(
    labels.join(' ') === 'zero one two three four five six seven eight nine',
    'labels.txt is zero..nine',
  );
  check(/label_filename: "labels.txt"/.test(cfg.text) && cfg.maxBatchSize === 32, 'config label_filename, max_batch_size 32');
  const sample = JSON.parse(readFileSync(path.join(MODELS, 'digits', 'sample.json'), 'utf8'));
  const expected = JSON.parse(readFileSync(path.join(ROOT, 'tools', 'digits_expected.json'), 'utf8'));
  const n = sample.inputs.length;
  const x = Float32Array.from(sample.inputs.flat());
  check(x.length === n * 64, `${n} sample images of 64 floats`);
  const { OUTPUT0 } = await session.run({ INPUT0: new ort.Tensor('float32', x, [n, 64]) });
  check(JSON.stringify(OUTPUT0.dims) === JSON.stringify([n, 10]), `OUTPUT0 dims [${OUTPUT0.dims}]`);
  const d = maxAbsDiff(OUTPUT0.data, expected.logits.flat());
  check(d < 1e-4, `logits match PyTorch (max abs diff ${d.toExponential(2)})`);
  const pred = argmaxRows(OUTPUT0.data, n, 10);
  check(JSON.stringify(pred) === JSON.stringify(sample.labels), `predicted ${pred.map((p) => labels[p])} == labels ${sample.labels}`);
  // a single image gives the same logits as inside the batch
  const one = await session.run({ INPUT0: new ort.Tensor('float32', x.slice(64, 128), [1, 64]) });
  const d1 = maxAbsDiff(one.OUTPUT0.data, OUTPUT0.data.slice(10, 20));
  check(d1 < 1e-5, `batch-1 run matches row 1 of batch (max abs diff ${d1.toExponential(2)})`);
}

function resnetInput() {
  const n = 3 * 224 * 224;
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    x[i] = ((i * 37) % 101) / 50 - 1;
    x[n + i] = (Math.floor(i / 224) % 224) / 112 - 1;
  }
  return x;
}

async function checkResnetMini() {
  const { session, cfg } = await load('resnet_mini');
  check(/dynamic_batching \{ max_queue_delay_microseconds: 100 \}/.test(cfg.text) && cfg.maxBatchSize === 8, 'config dynamic_batching, max_batch_size 8');
  const expected = JSON.parse(readFileSync(path.join(ROOT, 'tools', 'resnet_mini_expected.json'), 'utf8'));
  const x = resnetInput();
  const { OUTPUT0 } = await session.run({ INPUT0: new ort.Tensor('float32', x, [2, 3, 224, 224]) });
  check(JSON.stringify(OUTPUT0.dims) === '[2,1000]', `OUTPUT0 dims [${OUTPUT0.dims}]`);
  const d = maxAbsDiff(OUTPUT0.data, expected.output.flat());
  check(d < 1e-4, `outputs match PyTorch (max abs diff ${d.toExponential(2)})`);
  const top = argmaxRows(OUTPUT0.data, 2, 1000);
  check(JSON.stringify(top) === JSON.stringify(expected.argmax), `top-1 classes ${top}`);
  const one = new ort.Tensor('float32', x.slice(0, 3 * 224 * 224), [1, 3, 224, 224]);
  for (let i = 0; i < 5; i++) await session.run({ INPUT0: one });
  const reps = 50;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await session.run({ INPUT0: one });
  const ms = (performance.now() - t0) / reps;
  console.log(`  batch-1 inference ${ms.toFixed(2)} ms (mean of ${reps}, default session options)`);
  check(ms < 20, 'batch-1 inference under 20 ms');
}

await checkMyModel();
await checkSimple();
await checkIdentities();
await checkDigits();
await checkResnetMini();

if (failures) {
  console.log(`\n${failures} check(s) FAILED`);
  process.exit(1);
}
console.log('\nall checks passed');
