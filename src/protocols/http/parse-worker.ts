// A parser thread: decodes large REST infer bodies off the main thread with the very same codec, and
// sends the tensors back as transferred ArrayBuffers.

import { parentPort } from 'node:worker_threads';
import { asInferenceError } from '../../core/errors.js';
import { decodeInferRequest } from './codec.js';
import type { ParseJob, ParseResult } from './parse-pool.js';

const port = parentPort!;

port.on('message', (job: ParseJob) => {
  let msg: ParseResult;
  const transfer: ArrayBuffer[] = [];
  try {
    const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
    const decoded = decodeInferRequest(body, job.headerLength, job.modelName, job.modelVersion);
    // Small buffers may sit in Node's shared allocation pool, which cannot be transferred; they are copied.
    const seen = new Set<ArrayBufferLike>();
    for (const t of decoded.request.inputs) {
      const ab = t.data.buffer;
      if (!seen.has(ab) && ab.byteLength > Buffer.poolSize && ab instanceof ArrayBuffer) {
        seen.add(ab);
        transfer.push(ab);
      }
    }
    msg = { id: job.id, decoded };
  } catch (e) {
    const err = asInferenceError(e);
    msg = { id: job.id, error: { code: err.code, message: err.message } };
  }
  port.postMessage(msg, transfer);
});
