// The CallContext of a gRPC or gRPC-Web call: plain fields read from the call once, and the abort
// signal read through to the call, which makes its AbortController only when something waits on it.

import type { CallContext, CallFacts, Identity } from '../../api/context.js';
import type { CancelHook } from '../../core/cancel.js';
import type { RequestTrace } from '../../metrics/tracing.js';
import type { CallBase } from './call-base.js';

export class GrpcCallContext implements CallContext {
  readonly protocol: 'grpc' | 'grpc-web';
  readonly deadline: number | undefined;
  readonly start = performance.now();
  identity?: Identity;
  trace?: RequestTrace;

  /** `protocol` when the transport knows it; else it is read from the content type. */
  constructor(private readonly call: CallBase, readonly method: string, readonly label: string, readonly header: (name: string) => string | undefined, protocol?: 'grpc') {
    this.protocol = protocol ?? (header('content-type')?.startsWith('application/grpc-web') ? 'grpc-web' : 'grpc');
    const deadline = call.getDeadline();
    this.deadline = Number.isFinite(deadline) ? deadline : undefined;
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }

  get cancel(): CancelHook {
    return this.call.watchers;
  }

  facts(): CallFacts {
    // The request names its model as model_name (ModelInfer, load, unload) or name (metadata, ready, config, stats).
    const r = this.call.request as { model_name?: unknown; name?: unknown } | undefined;
    const model = typeof r?.model_name === 'string' ? r.model_name : typeof r?.name === 'string' ? r.name : undefined;
    return { method: this.method, model: model || undefined, bytesIn: this.call.bytesIn, bytesOut: this.call.bytesOut };
  }
}
