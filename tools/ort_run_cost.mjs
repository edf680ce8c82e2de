// What one onnxruntime-node run costs through its public API against Duet's direct call of the native
// session (src/backends/onnx/direct.ts), back to back in one thread. Build first (npm run build).
// Usage: node tools/ort_run_cost.mjs [model=models/my_model/1/model.onnx] [runs=20000]
import * as ort from 'onnxruntime-node';
import { openDirect } from '../dist/src/backends/onnx/direct.js';

const file = process.argv[2] ?? 'models/my_model/1/model.onnx';
const runs = Number(process.argv[3] ?? 20000);
const options = { graphOptimizationLevel: 'all', executionProviders: ['cpu'], intraOpNumThreads: 1 };
const pub = await ort.InferenceSession.create(file, options);
const direct = openDirect(file, options);
if (!direct) throw new Error('this onnxruntime-node has no native session where direct.ts looks for it');

// Every input gets ones (or 1n) at its shape, free dimensions as 1.
const feeds = () => Object.fromEntries(pub.inputMetadata.map((m) => {
  const shape = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const n = shape.reduce((a, b) => a * b, 1);
  const data = m.type === 'int64' ? new BigInt64Array(n).fill(1n) : m.type === 'int32' ? new Int32Array(n).fill(1) : new Float32Array(n).fill(1);
  return [m.name, new ort.Tensor(m.type, data, shape)];
}));
const names = pub.outputNames;

async function time(run) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await run(feeds());
  return Number(process.hrtime.bigint() - t) / runs / 1000;
}
for (let round = 1; round <= 3; round++) {
  const a = await time((f) => pub.run(f, names));
  const b = await time((f) => direct.run(f, names));
  console.log(`round ${round}: public run ${a.toFixed(2)} µs, direct ${b.toFixed(2)} µs per run (${runs} runs each)`);
}
await pub.release();
direct.release();
