// The CallContext of a gRPC or gRPC-Web call: plain fields read from the call once, and the abort
// signal read through to the call, which makes its AbortController only when something waits on it.

import type { CallContext, Identity } from '../../api/context.js';
import type { CancelHook } from '../../core/cancel.js';
import type { RequestTrace } from '../../metrics/tracing.js';
import type { CallBase } from './call-base.js';

export class GrpcCallContext implements CallContext {
  readonly protocol: 'grpc' | 'grpc-web';
  readonly deadline: number | undefined;
  readonly start = performance.now();
  identity?: Identity;
  trace?: RequestTrace;

  constructor(private readonly call: CallBase, readonly method: string, readonly label: string, readonly header: (name: string) => string | undefined) {
    this.protocol = header('content-type')?.startsWith('application/grpc-web') ? 'grpc-web' : 'grpc';
    const deadline = call.getDeadline();
    this.deadline = Number.isFinite(deadline) ? deadline : undefined;
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }

  get cancel(): CancelHook {
    return this.call.watchers;
  }
}
