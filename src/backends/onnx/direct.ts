// onnxruntime-node's public InferenceSession.run checks its feeds again and then defers the native call to a
// setImmediate, a turn of the worker's event loop: 12 µs per my_model run against 5.5 µs for the native call
// (tools/ort_run_cost.mjs). Duet checks inputs against the model's metadata before they reach the worker, and a
// worker runs one execution at a time, so it calls the package's native session directly where the installed
// onnxruntime-node has it where 1.30 keeps it (dist/binding.js). Anything else falls back to the public API.

import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

/** What the native session reports per input or output; `type` is ONNX's TensorProto.DataType number. */
interface RawMeta { name: string; isTensor: boolean; type: number; shape: number[] }

interface NativeSession {
  loadModel(path: string, options: object): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): Record<string, unknown>;
  dispose(): void;
  readonly inputMetadata: RawMeta[];
  readonly outputMetadata: RawMeta[];
}
interface Binding { binding: { InferenceSession: new () => NativeSession }; initOrt: () => void }

// ONNX TensorProto.DataType numbers, as onnxruntime-node names them.
const ORT_TYPE: Record<number, ort.Tensor.Type> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

/** One loaded model, run synchronously; the same metadata shape as ort.InferenceSession's. */
export interface DirectSession {
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Record<string, ort.Tensor>, names: readonly string[]): Record<string, ort.Tensor>;
  release(): void;
}

function loadBinding(): Binding | undefined {
  try {
    const b = createRequire(import.meta.url)('onnxruntime-node/dist/binding.js') as Partial<Binding>;
    return typeof b.binding?.InferenceSession === 'function' && typeof b.initOrt === 'function' ? (b as Binding) : undefined;
  } catch {
    return undefined;
  }
}

function metaOf(raw: unknown): ort.InferenceSession.ValueMetadata[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: ort.InferenceSession.ValueMetadata[] = [];
  for (const m of raw as Partial<RawMeta>[]) {
    if (typeof m?.name !== 'string' || typeof m.isTensor !== 'boolean') return undefined;
    if (!m.isTensor) {
      out.push({ name: m.name, isTensor: false });
      continue;
    }
    if (typeof m.type !== 'number' || !Array.isArray(m.shape)) return undefined;
    // A type this table lacks keeps its number, so the runner refuses the model by name, as it does any it cannot serve.
    const type = (ORT_TYPE[m.type] ?? `onnx type ${m.type}`) as ort.Tensor.Type;
    out.push({ name: m.name, isTensor: true, type, shape: m.shape.map((d) => (d >= 0 ? d : -1)) });
  }
  return out;
}

/**
 * Loads `file` into onnxruntime-node's native session, or returns undefined when this onnxruntime-node does not
 * have one in the expected place and shape (the caller then uses the public API). A model that fails to load
 * throws, as InferenceSession.create would.
 */
export function openDirect(
  file: string,
  options: ort.InferenceSession.SessionOptions,
  bind: () => Binding | undefined = loadBinding,
): DirectSession | undefined {
  const binding = bind();
  if (!binding) return undefined;
  binding.initOrt();
  const native = new binding.binding.InferenceSession();
  if (typeof native.loadModel !== 'function' || typeof native.run !== 'function' || typeof native.dispose !== 'function') return undefined;
  native.loadModel(file, options);
  const inputMetadata = metaOf(native.inputMetadata);
  const outputMetadata = metaOf(native.outputMetadata);
  if (!inputMetadata || !outputMetadata) {
    native.dispose();
    return undefined;
  }
  return {
    inputMetadata,
    outputMetadata,
    run(feeds, names) {
      const fetches: Record<string, null> = {};
      for (const n of names) fetches[n] = null;
      const raw = native.run(feeds, fetches, {});
      const out: Record<string, ort.Tensor> = {};
      for (const n of names) {
        const v = raw[n] as ort.Tensor | { type: ort.Tensor.Type; data: never; dims: readonly number[] };
        out[n] = v instanceof ort.Tensor ? v : new ort.Tensor(v.type, v.data, v.dims);
      }
      return out;
    },
    release: () => native.dispose(),
  };
}
