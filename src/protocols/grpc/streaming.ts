// ModelStreamInfer (bidirectional) with Triton's semantics: many requests interleaved on one
// stream, each answered by its responses as they come; an error for one request travels in
// error_message and the stream goes on; triton_enable_empty_final_response adds the final flag.

import { once } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { asInferenceError, invalidArg } from '../../core/errors.js';
import type { DataPlane } from '../../dataplane.js';
import { duet, type inference } from '../../generated/proto.js';
import { decodeStrings, encodeBytes, type Parameters } from '../../core/tensor.js';
import { decodeInferRequest, encodeInferResponse } from './codec.js';
import { toServiceError } from './service.js';
import { DecodeFailure, EMPTY_FINAL, FINAL_FLAG } from './definitions.js';


/** Writes that wait for the socket when grpc-js's buffer is full, so a slow reader bounds the server's memory. */
export function backpressuredWriter(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, signal: AbortSignal) {
  return async (msg: unknown): Promise<void> => {
    if (signal.aborted) return;
    if (!call.write(msg)) await once(call, 'drain', { signal }).catch(() => {});
  };
}

export function modelStreamInfer(dp: DataPlane) {
  return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort());
    call.on('error', () => ac.abort());
    const write = backpressuredWriter(call, ac.signal);
    let active = 0;
    let inputEnded = false;
    const maybeEnd = () => {
      if (inputEnded && active === 0 && !ac.signal.aborted) call.end();
    };

    const handle = async (raw: unknown) => {
      const m = raw instanceof DecodeFailure ? undefined : (raw as inference.ModelInferRequest);
      let version = m?.model_version ?? '';
      try {
        if (!m) throw invalidArg((raw as DecodeFailure).message);
        const req = decodeInferRequest(m);
        req.signal = ac.signal;
        const flagged = req.parameters[EMPTY_FINAL] === true;
        const { decoupled, responses } = dp.openStream(req);
        for await (const r of responses) {
          version = r.modelVersion;
          const ir = encodeInferResponse(r);
          // An ordinary model's one response is also its last.
          if (flagged) ir.parameters![FINAL_FLAG] = { bool_param: !decoupled };
          await write({ infer_response: ir });
        }
        if (decoupled && flagged) {
          await write({ infer_response: { model_name: m.model_name, model_version: version, id: m.id, parameters: { [FINAL_FLAG]: { bool_param: true } } } });
        }
      } catch (e) {
        if (ac.signal.aborted) return;
        const err = asInferenceError(e);
        // error_code is Duet's addition: the error table's code, so clients can tell bad input from failure.
        await write({
          error_message: err.message,
          infer_response: { model_name: m?.model_name ?? '', model_version: version, id: m?.id ?? '', parameters: { error_code: { string_param: err.code } } },
        });
      }
    };

    call.on('data', (raw: unknown) => {
      active++;
      void handle(raw).finally(() => {
        active--;
        maybeEnd();
      });
    });
    call.on('end', () => {
      inputEnded = true;
      maybeEnd();
    });
  };
}

/** duet.Generator/Generate: a prompt in, one message per token out, the last one final with its finish reason. */
export function generatorImpl(dp: DataPlane) {
  return async (call: grpc.ServerWritableStream<unknown, unknown>) => {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort());
    const write = backpressuredWriter(call, ac.signal);
    try {
      if (call.request instanceof DecodeFailure) throw invalidArg(call.request.message);
      const r = call.request as duet.GenerateRequest;
      const model = r.model || 'tiny_gpt';
      const parameters: Parameters = {};
      if (r.max_tokens != null) parameters.max_tokens = r.max_tokens;
      if (r.temperature != null) parameters.temperature = r.temperature;
      if (r.top_k != null) parameters.top_k = r.top_k;
      if (r.seed != null) parameters.seed = BigInt(r.seed.toString());
      if (r.stop?.length) parameters.stop = JSON.stringify(r.stop);
      const batched = dp.modelConfig(model).max_batch_size > 0;
      const { responses } = dp.openStream({
        modelName: model,
        inputs: [{ name: 'text_input', datatype: 'BYTES', shape: batched ? [1, 1] : [1], data: encodeBytes([Buffer.from(r.prompt ?? '', 'utf8')]) }],
        outputs: [{ name: 'text_output' }],
        parameters,
        signal: ac.signal,
      });
      let index = 0;
      let finished = false;
      for await (const res of responses) {
        const out = res.outputs.find((o) => o.name === 'text_output');
        const text = out ? decodeStrings(out.data).join('') : '';
        const reason = res.parameters?.finish_reason;
        finished = reason !== undefined;
        await write(duet.GenerateResponse.create({ text, index: index++, final: finished, finish_reason: finished ? String(reason) : '' }));
        if (finished) break;
      }
      if (!finished && !ac.signal.aborted) await write(duet.GenerateResponse.create({ text: '', index, final: true, finish_reason: '' }));
      call.end();
    } catch (e) {
      if (!ac.signal.aborted) call.emit('error', toServiceError(e));
    }
  };
}
