// ModelStreamInfer (bidirectional) with Triton's semantics: many requests interleaved on one
// stream, each answered by its responses as they come; an error for one request travels in
// error_message and the stream goes on; triton_enable_empty_final_response adds the final flag.

import type { Api, CallContext } from '../../api/index.js';
import { asInferenceError, InferenceError, invalidArg } from '../../core/errors.js';
import { duet, type inference } from '../../generated/proto.js';
import type { Parameters } from '../../core/tensor.js';
import { decodeInferRequest, encodeInferResponse } from './codec.js';
import { requestOf, toStatus, type Handler } from './service.js';
import { DecodeFailure, EMPTY_FINAL, FINAL_FLAG } from './definitions.js';
import { drainingError, idleTimeoutError, waitForDrain } from '../lifecycle.js';
import type { RpcCall } from './rpc-call.js';

type StreamCall = RpcCall;

/** Timers may fire a little apart: a deadline error this close to the call's deadline is the call's. */
const DEADLINE_SLACK_MS = 5;

/** What the server tells its streaming handlers, whatever transport carries them. */
export interface StreamControl {
  /** Aborts when shutdown begins: a ModelStreamInfer stream takes no new requests and ends once idle. */
  draining: AbortSignal;
  /** Aborts, with the InferenceError to end them with, when the streams still open must end now. */
  ending: AbortSignal;
  /** A write waiting this long on a reader that takes no data cancels the stream; 0: never. */
  idleTimeoutMs: number;
}

/**
 * One streaming call's lifetime: its signal aborts when the client cancels, or when the server ends the
 * call with an InferenceError (shutdown, idle reader), which then goes out as the call's status.
 */
function streamScope(call: StreamCall, control: StreamControl, onDraining?: () => void) {
  const ac = new AbortController();
  const end = (err: InferenceError) => ac.abort(err);
  const onEnding = () => end(control.ending.reason as InferenceError);
  const drainingNow = () => onDraining?.();
  control.ending.addEventListener('abort', onEnding, { once: true });
  if (onDraining) control.draining.addEventListener('abort', drainingNow, { once: true });
  const release = () => {
    control.ending.removeEventListener('abort', onEnding);
    control.draining.removeEventListener('abort', drainingNow);
  };
  ac.signal.addEventListener('abort', () => {
    release();
    const r: unknown = ac.signal.reason;
    if (r instanceof InferenceError) call.sendStatus(toStatus(r));
  }, { once: true });
  // The client cancelled, or the transport failed the call: no status to send.
  call.on('cancelled', () => ac.abort());
  call.on('error', () => ac.abort());
  if (control.ending.aborted) queueMicrotask(onEnding);
  else if (control.draining.aborted) queueMicrotask(drainingNow);
  return {
    signal: ac.signal,
    end,
    /** The call ended normally. */
    finished: release,
    /**
     * Writes that wait for the transport when its buffer is full, so a slow reader bounds the server's
     * memory; a reader that takes nothing for the idle timeout ends the call (CANCELLED).
     */
    write: (msg: unknown): Promise<void> | undefined => {
      if (ac.signal.aborted || call.write(msg)) return undefined;
      return waitForDrain(call, ac.signal, control.idleTimeoutMs).then((r) => {
        if (r === 'timeout') end(idleTimeoutError(control.idleTimeoutMs));
      });
    },
  };
}

export function modelStreamInfer({ methods: m, wrapper: w }: Api, control: StreamControl): Handler {
  return (call, _cb, ctx) => {
    let active = 0;
    let inputEnded = false;
    // Once shutdown begins the stream ends as soon as it is idle, so an open stream cannot hold shutdown.
    const maybeEnd = () => {
      if (active > 0 || scope.signal.aborted) return;
      if (inputEnded) {
        scope.finished();
        call.end();
      } else if (control.draining.aborted) {
        scope.end(drainingError());
      }
    };
    const scope = streamScope(call, control, maybeEnd);
    const { write } = scope;

    // Each request of the stream is a call of its own through the wrapper (its span, its errors).
    const handle = async (raw: unknown) => {
      const msg = raw instanceof DecodeFailure ? undefined : (raw as inference.ModelInferRequest);
      let version = msg?.model_version ?? '';
      // The call's deadline is the call's to enforce (its timer ends the call DEADLINE_EXCEEDED and cancels
      // the requests through scope.signal). Given to the queue as well, it would race that timer: a request
      // dropped on it is answered in-band, and a stream whose input had ended could then close OK.
      const reqCtx: CallContext = { ...ctx!, signal: scope.signal, cancel: undefined, deadline: undefined, trace: undefined };
      let flagged = false;
      const decode = () => {
        if (control.draining.aborted) throw drainingError();
        if (!msg) throw invalidArg((raw as DecodeFailure).message);
        const req = decodeInferRequest(msg);
        flagged = req.parameters[EMPTY_FINAL] === true;
        return req;
      };
      let decoupled = false;
      try {
        const responses = w.stream(reqCtx, decode, (c, q) => {
          const s = m.ModelStreamInfer(c, q);
          decoupled = s.decoupled;
          return s.responses;
        }, (r) => r, msg?.model_name);
        for await (const r of responses) {
          version = r.modelVersion;
          const ir = encodeInferResponse(r);
          // An ordinary model's one response is also its last.
          if (flagged) ir.parameters![FINAL_FLAG] = { bool_param: !decoupled };
          // Most writes are taken at once: no await then (one microtask turn per token fewer).
          const w = write({ infer_response: ir });
          if (w) await w;
        }
        if (decoupled && flagged) {
          await write({ infer_response: { model_name: msg!.model_name, model_version: version, id: msg!.id, parameters: { [FINAL_FLAG]: { bool_param: true } } } });
        }
      } catch (e) {
        if (scope.signal.aborted) return;
        const err = asInferenceError(e);
        // The call's own deadline ends the call with its status, whether the call's timer or the scheduler's saw it first.
        if (err.code === 'DEADLINE_EXCEEDED' && Date.now() >= call.getDeadline() - DEADLINE_SLACK_MS) return scope.end(err);
        // error_code is Duet's addition: the error table's code, so clients can tell bad input from failure.
        await write({
          error_message: err.message,
          infer_response: { model_name: msg?.model_name ?? '', model_version: version, id: msg?.id ?? '', parameters: { error_code: { string_param: err.code } } },
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
export function generator({ methods: m, wrapper: w }: Api, control: StreamControl): Handler {
  return (call, _cb, ctx) => {
    void (async () => {
      const scope = streamScope(call, control);
      const { write } = scope;
      const decode = () => {
        const r = requestOf<duet.GenerateRequest>(call);
        const parameters: Parameters = {};
        if (r.max_tokens != null) parameters.max_tokens = r.max_tokens;
        if (r.temperature != null) parameters.temperature = r.temperature;
        if (r.top_k != null) parameters.top_k = r.top_k;
        if (r.seed != null) parameters.seed = BigInt(r.seed.toString());
        if (r.stop?.length) parameters.stop = JSON.stringify(r.stop);
        return { modelName: r.model, text: r.prompt ?? '', parameters };
      };
      const model = call.request instanceof DecodeFailure ? undefined : (call.request as duet.GenerateRequest).model;
      try {
        let index = 0;
        let finished = false;
        for await (const c of w.stream({ ...ctx!, signal: scope.signal }, decode, (cx, q) => m.Generate(cx, q), (x) => x, model)) {
          finished = c.finishReason !== undefined;
          await write(duet.GenerateResponse.create({ text: c.text, index: index++, final: finished, finish_reason: c.finishReason ?? '' }));
          if (finished) break;
        }
        if (!finished && !scope.signal.aborted) await write(duet.GenerateResponse.create({ text: '', index, final: true, finish_reason: '' }));
        if (scope.signal.aborted) return;
        scope.finished();
        call.end();
      } catch (e) {
        if (!scope.signal.aborted) scope.end(asInferenceError(e));
      }
    })();
  };
}
