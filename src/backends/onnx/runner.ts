// ONNX Runtime inside a worker thread: session.run blocks the thread it runs on, so it never runs on the main one.

import * as ort from 'onnxruntime-node';
import { bytesOf, typedView, type DataType } from '../../core/datatypes.js';
import { InferenceError, asInferenceError } from '../../core/errors.js';
import { decodeBytes, decodeStrings, encodeBytes, type Tensor } from '../../core/tensor.js';
import type { ExecuteRequest, ExecuteResult, IoMeta, LoadResult, LoadSpec } from '../backend.js';
import type { Runner } from '../runner.js';
import { openDirect, type DirectSession } from './direct.js';

const TO_ORT: Record<DataType, ort.Tensor.Type> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};
const FROM_ORT = Object.fromEntries(Object.entries(TO_ORT).map(([k, v]) => [v, k])) as Record<string, DataType>;

function ioMeta(list: readonly ort.InferenceSession.ValueMetadata[], what: string): IoMeta[] {
  return list.map((m) => {
    if (!m.isTensor) throw new InferenceError('INVALID_ARGUMENT', `ONNX ${what} '${m.name}' is not a tensor (unsupported)`);
    const datatype = FROM_ORT[m.type];
    if (!datatype) throw new InferenceError('INVALID_ARGUMENT', `ONNX ${what} '${m.name}' has unsupported type '${m.type}'`);
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  });
}

function toOrt(t: Tensor): ort.Tensor {
  if (t.datatype === 'BYTES') {
    const strings = decodeStrings(t.data);
    return new ort.Tensor('string', strings, t.shape);
  }
  const view = typedView(t.datatype, t.data);
  return new ort.Tensor(TO_ORT[t.datatype], view as never, t.shape);
}

function fromOrt(name: string, v: ort.Tensor): Tensor {
  const datatype = FROM_ORT[v.type];
  if (!datatype) throw new InferenceError('INTERNAL', `output '${name}' has unsupported ONNX type '${v.type}'`);
  const shape = v.dims.slice();
  if (datatype === 'BYTES') {
    return { name, datatype, shape, data: encodeBytes((v.data as string[]).map((s) => Buffer.from(s, 'utf8'))) };
  }
  return { name, datatype, shape, data: bytesOf(v.data as ArrayBufferView) };
}

/** Views that already sit back to back (as packBatch lays them out) join without a copy. */
function concatBytes(parts: Uint8Array[]): Uint8Array {
  const first = parts[0];
  let end = first.byteOffset + first.byteLength;
  for (const p of parts.slice(1)) {
    if (p.buffer !== first.buffer || p.byteOffset !== end) return Buffer.concat(parts);
    end += p.byteLength;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** The public session, or the native one run directly (see direct.ts); both answer `run` with ort tensors. */
type Session = Pick<ort.InferenceSession, 'inputMetadata' | 'outputMetadata'> & {
  run(feeds: Record<string, ort.Tensor>, names: readonly string[]): Promise<Record<string, ort.Tensor>> | Record<string, ort.Tensor>;
  release(): unknown;
};

function publicSession(s: ort.InferenceSession): Session {
  return {
    inputMetadata: s.inputMetadata,
    outputMetadata: s.outputMetadata,
    run: (feeds, names) => s.run(feeds, names as string[]),
    release: () => s.release(),
  };
}

export class OnnxRunner implements Runner {
  private session: Session | undefined;
  private outputNames: readonly string[] = [];
  /** Whether runs go to the native session directly (tests read it; see direct.ts). */
  direct = false;

  /** `direct: false` always uses onnxruntime-node's public API. */
  constructor(private readonly opts: { direct?: boolean } = {}) {}

  async load(spec: LoadSpec): Promise<LoadResult> {
    const params = spec.config.parameters ?? {};
    const intra = Number(params.intra_op_thread_count?.string_value ?? 0);
    const inter = Number(params.inter_op_thread_count?.string_value ?? 0);
    const notes: string[] = [];
    const options: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      // One intra-op thread by default: instances give parallelism, and idle ORT pool threads spin on a small machine.
      intraOpNumThreads: intra > 0 ? intra : 1,
      ...(inter > 0 ? { interOpNumThreads: inter } : {}),
    };
    if (spec.gpu) {
      try {
        this.session = publicSession(await ort.InferenceSession.create(spec.modelFile, { ...options, executionProviders: ['cuda', 'cpu'] }));
        notes.push('using the CUDA execution provider');
      } catch (e) {
        notes.push(`CUDA execution provider unavailable (${(e as Error).message.split('\n')[0]}); running on CPU`);
      }
    }
    try {
      if (!this.session && this.opts.direct !== false) {
        const direct: DirectSession | undefined = openDirect(spec.modelFile, options);
        this.session = direct;
        this.direct = direct !== undefined;
      }
      this.session ??= publicSession(await ort.InferenceSession.create(spec.modelFile, options));
    } catch (e) {
      throw new InferenceError('INVALID_ARGUMENT', `cannot load ONNX file ${spec.modelFile}: ${(e as Error).message}`);
    }
    this.outputNames = this.session.outputMetadata.map((m) => m.name);
    return {
      inputs: ioMeta(this.session.inputMetadata, 'input'),
      outputs: ioMeta(this.session.outputMetadata, 'output'),
      notes,
    };
  }

  async execute(requests: ExecuteRequest[]): Promise<ExecuteResult[]> {
    const session = this.session;
    if (!session) throw new InferenceError('UNAVAILABLE', 'ONNX session is not loaded');
    // The dynamic batcher only groups requests whose inputs match but for dim 0: one run for all.
    if (requests.length > 1) {
      try {
        return await this.runBatch(session, requests);
      } catch (e) {
        const err = e instanceof InferenceError ? e : new InferenceError('INTERNAL', `onnxruntime: ${(e as Error).message}`);
        return requests.map(() => err);
      }
    }
    const results: ExecuteResult[] = [];
    for (const req of requests) {
      try {
        const feeds: Record<string, ort.Tensor> = {};
        for (const t of req.inputs) feeds[t.name] = toOrt(t);
        const names = req.outputs ?? this.outputNames;
        const out = await session.run(feeds, names);
        results.push(names.map((n) => fromOrt(n, out[n])));
      } catch (e) {
        const err = e instanceof InferenceError ? e : new InferenceError('INTERNAL', `onnxruntime: ${(e as Error).message}`);
        results.push(asInferenceError(err));
      }
    }
    return results;
  }

  private async runBatch(session: Session, requests: ExecuteRequest[]): Promise<ExecuteResult[]> {
    const rows = requests.map((r) => r.inputs[0]?.shape[0] ?? 1);
    const total = rows.reduce((a, b) => a + b, 0);
    const feeds: Record<string, ort.Tensor> = {};
    for (const first of requests[0].inputs) {
      const parts = requests.map((r) => r.inputs.find((t) => t.name === first.name)!);
      feeds[first.name] = toOrt({ ...first, shape: [total, ...first.shape.slice(1)], data: concatBytes(parts.map((p) => p.data)) });
    }
    const names = requests[0].outputs ?? this.outputNames;
    const out = await session.run(feeds, names);
    const results: Tensor[][] = requests.map(() => []);
    for (const n of names) {
      const whole = fromOrt(n, out[n]);
      if (whole.shape[0] !== total) {
        throw new InferenceError('INTERNAL', `output '${n}' has ${whole.shape[0]} rows for a batch of ${total}; the model does not batch along dim 0`);
      }
      const rest = whole.shape.slice(1);
      if (whole.datatype === 'BYTES') {
        const els = decodeBytes(whole.data);
        const per = total ? els.length / total : 0;
        let row = 0;
        requests.forEach((_, i) => {
          results[i].push({ name: n, datatype: 'BYTES', shape: [rows[i], ...rest], data: encodeBytes(els.slice(row * per, (row + rows[i]) * per)) });
          row += rows[i];
        });
      } else {
        const rowBytes = total ? whole.data.byteLength / total : 0;
        let row = 0;
        requests.forEach((_, i) => {
          results[i].push({ name: n, datatype: whole.datatype, shape: [rows[i], ...rest], data: whole.data.subarray(row * rowBytes, (row + rows[i]) * rowBytes) });
          row += rows[i];
        });
      }
    }
    return results;
  }

  async close(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }
}
