// Entry point of every backend worker thread: loads one model instance and runs its batches.

import { parentPort } from 'node:worker_threads';
import { asInferenceError, InferenceError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteRequest } from './backend.js';
import { type ExecuteMessage, type FromWorker, type ToWorker, type WireResult } from './protocol.js';
import { backendOfKind } from './registry.js';
import type { Runner } from './runner.js';
import { packTensors, unpackTensors } from './wire.js';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
let runner: Runner | undefined;


interface ActiveStream {
  abort: AbortController;
  /** Shared with the main thread: responses this stream may still send (see the 'stream' message). */
  credits: Int32Array;
}
const streams = new Map<number, ActiveStream>();

// Atomics.waitAsync is ES2024 (in Node since 16); the compile target's lib predates it.
type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<unknown> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Resolves once the consumer has granted credit (or the stream is aborted, which notifies too). */
async function awaitCredit(st: ActiveStream): Promise<void> {
  for (;;) {
    if (st.abort.signal.aborted) return;
    const v = Atomics.load(st.credits, 0);
    if (v > 0) return;
    const w = waitAsync(st.credits, 0, v);
    if (w.async) await w.value;
  }
}

async function runStream(seq: number, request: ExecuteRequest, credits: SharedArrayBuffer): Promise<void> {
  const st: ActiveStream = { abort: new AbortController(), credits: new Int32Array(credits) };
  streams.set(seq, st);
  try {
    if (!runner?.stream) throw new InferenceError('INTERNAL', 'this model instance does not stream');
    for await (const item of runner.stream(request, st.abort.signal)) {
      if (st.abort.signal.aborted) break;
      const packed = packTensors(item.outputs);
      post({ type: 'stream-item', seq, outputs: packed.slots, parameters: item.parameters, buffer: packed.buffer }, [packed.buffer]);
      if (Atomics.sub(st.credits, 0, 1) <= 1) await awaitCredit(st);
      if (st.abort.signal.aborted) break;
    }
    post({ type: 'stream-end', seq });
  } catch (e) {
    const err = asInferenceError(e);
    post({ type: 'stream-end', seq, error: { code: err.code, message: err.message } });
  } finally {
    streams.delete(seq);
  }
}

/** Ends a stream's model loop: aborts it and wakes it if it waits for credit. */
function abortStream(st: ActiveStream): void {
  st.abort.abort();
  Atomics.notify(st.credits, 0);
}

const post = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function makeRunner(kind: string): Promise<Runner> {
  const backend = backendOfKind(kind);
  if (!backend) throw new InferenceError('INVALID_ARGUMENT', `unknown backend '${kind}'`);
  return backend.runner();
}

type ExecuteMsg = ExecuteMessage;
/** Executions run one at a time, in order; a staged one waits here while another runs. */
const executions: ExecuteMsg[] = [];
let executing = false;
/** Shared with the main thread: the staged request's id (see StagedRequest in backend.ts). */
let stageWord: Int32Array | undefined;

/** The next execution to run: a staged one only if the worker claims it before the main thread takes it back. */
function nextExecution(): ExecuteMsg | undefined {
  for (let m = executions.shift(); m; m = executions.shift()) {
    if (m.stage === undefined || (stageWord && Atomics.compareExchange(stageWord, 0, m.stage, -m.stage) === m.stage)) return m;
  }
  return undefined;
}

async function executeAll(): Promise<void> {
  executing = true;
  try {
    let msg = nextExecution();
    while (msg) {
      const reply = await execute(msg);
      // The next one is claimed before this reply goes, so the main thread sees the claim when it reads the reply.
      msg = nextExecution();
      post(reply, [reply.buffer]);
    }
  } finally {
    executing = false;
  }
}

async function execute(msg: ExecuteMsg): Promise<Extract<FromWorker, { type: 'results' }>> {
  const t0 = process.hrtime.bigint();
  const requests = msg.requests.map((r) => ({
    id: r.id,
    outputs: r.outputs,
    parameters: r.parameters,
    inputs: unpackTensors({ slots: r.inputs, buffer: msg.buffer, given: msg.given }),
  }));
  let results;
  const t1 = process.hrtime.bigint();
  try {
    if (!runner) throw new InferenceError('UNAVAILABLE', 'model instance is not loaded');
    results = await runner.execute(requests);
  } catch (e) {
    results = requests.map(() => asInferenceError(e));
  }
  const t2 = process.hrtime.bigint();
  // All outputs of the batch travel back in one transferred buffer.
  const all: Tensor[] = [];
  const counts: number[] = [];
  for (const r of results) {
    if (r instanceof InferenceError) counts.push(-1);
    else {
      counts.push(r.length);
      all.push(...r);
    }
  }
  const packed = packTensors(all);
  let k = 0;
  const wire: WireResult[] = results.map((r, i) => {
    if (r instanceof InferenceError) return { error: { code: r.code, message: r.message } };
    const slots = packed.slots.slice(k, k + counts[i]);
    k += counts[i];
    return { outputs: slots };
  });
  const t3 = process.hrtime.bigint();
  const timing = { inputNs: Number(t1 - t0), inferNs: Number(t2 - t1), outputNs: Number(t3 - t2) };
  return { type: 'results', seq: msg.seq, results: wire, buffer: packed.buffer, timing };
}

port.on('message', async (msg: ToWorker) => {
  switch (msg.type) {
    case 'load':
      stageWord = new Int32Array(msg.stage);
      try {
        runner = await makeRunner(msg.spec.kind);
        post({ type: 'loaded', result: await runner.load(msg.spec) });
      } catch (e) {
        const err = asInferenceError(e);
        post({ type: 'load-failed', error: { code: err.code, message: err.message } });
      }
      return;
    case 'execute':
      executions.push(msg);
      if (!executing) void executeAll();
      return;
    case 'executions':
      executions.push(...msg.list);
      if (!executing) void executeAll();
      return;
    case 'stream':
      void runStream(msg.seq, {
        id: msg.request.id,
        outputs: msg.request.outputs,
        parameters: msg.request.parameters,
        inputs: unpackTensors({ slots: msg.request.inputs, buffer: msg.buffer }),
      }, msg.credits);
      return;
    case 'cancel': {
      const st = streams.get(msg.seq);
      if (st) abortStream(st);
      return;
    }
    case 'close':
      for (const st of streams.values()) abortStream(st);
      try {
        await runner?.close();
      } finally {
        post({ type: 'closed' });
      }
      return;
  }
});
