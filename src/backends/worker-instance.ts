// The main-thread handle of one model instance living in its own worker thread.

import { Worker } from 'node:worker_threads';
import { InferenceError } from '../core/errors.js';
import type { ExecuteRequest, ExecuteResult, LoadResult, LoadSpec, ModelInstance } from './backend.js';
import type { FromWorker, ToWorker, WireRequest } from './protocol.js';
import { packTensors, unpackTensors } from './wire.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

interface Pending {
  resolve: (r: ExecuteResult[]) => void;
  reject: (e: Error) => void;
}

export class WorkerInstance implements ModelInstance {
  readonly name: string;
  loadResult: LoadResult = {};
  private readonly worker: Worker;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private dead: InferenceError | undefined;
  private onClosed: (() => void) | undefined;

  private constructor(spec: LoadSpec) {
    this.name = spec.instanceName;
    this.worker = new Worker(WORKER_URL, { name: `duet:${spec.instanceName}` });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    // A crashing model takes down its worker, never the server: fail what it held.
    this.worker.on('error', (e) => this.fail(`model instance '${this.name}' crashed: ${e.message}`));
    this.worker.on('exit', (code) => {
      this.fail(`model instance '${this.name}' exited (code ${code})`);
      this.onClosed?.();
    });
  }

  static async start(spec: LoadSpec): Promise<WorkerInstance> {
    const inst = new WorkerInstance(spec);
    try {
      inst.loadResult = await inst.load(spec);
    } catch (e) {
      await inst.worker.terminate();
      throw e;
    }
    return inst;
  }

  private loadWaiter: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | undefined;

  private load(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.loadWaiter = { resolve, reject };
      this.send({ type: 'load', spec });
    });
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[] = []) {
    this.worker.postMessage(msg, transfer);
  }

  private onMessage(m: FromWorker) {
    switch (m.type) {
      case 'loaded':
        this.loadWaiter?.resolve(m.result);
        this.loadWaiter = undefined;
        return;
      case 'load-failed':
        this.loadWaiter?.reject(new InferenceError(m.error.code, m.error.message));
        this.loadWaiter = undefined;
        return;
      case 'results': {
        const p = this.pending.get(m.seq);
        if (!p) return;
        this.pending.delete(m.seq);
        p.resolve(m.results.map((r) =>
          'error' in r ? new InferenceError(r.error.code, r.error.message) : unpackTensors({ slots: r.outputs, buffer: m.buffer })));
        return;
      }
      case 'closed':
        this.onClosed?.();
        return;
    }
  }

  private fail(message: string) {
    if (this.dead) return;
    this.dead = new InferenceError('INTERNAL', message);
    this.loadWaiter?.reject(this.dead);
    this.loadWaiter = undefined;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  execute(requests: ExecuteRequest[]): Promise<ExecuteResult[]> {
    if (this.dead) return Promise.reject(this.dead);
    const all = requests.flatMap((r) => r.inputs);
    const packed = packTensors(all);
    let k = 0;
    const wire: WireRequest[] = requests.map((r) => {
      const slots = packed.slots.slice(k, k + r.inputs.length);
      k += r.inputs.length;
      return { id: r.id, inputs: slots, outputs: r.outputs, parameters: r.parameters };
    });
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.send({ type: 'execute', seq, requests: wire, buffer: packed.buffer }, [packed.buffer]);
    });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
    this.send({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await closed;
    clearTimeout(timer);
    this.dead = new InferenceError('UNAVAILABLE', `model instance '${this.name}' is unloaded`);
    await this.worker.terminate();
  }
}
