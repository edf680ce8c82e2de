// One REST request being answered: its CallContext, its connection's counters, the memory its body
// holds, and its cancellation. Kept in one object with plain fields (no per-request closures), and the
// AbortController is made only when something waits on it (most requests never have it read).

import type { CallContext, CallFacts, Identity } from '../../api/context.js';
import type { BudgetLease } from '../../core/budget.js';
import { CancelWatchers, type CancelHook } from '../../core/cancel.js';
import type { RequestTrace } from '../../metrics/tracing.js';
import { matchModelPath, modelInPath, operationOf, routeLabel, type ModelPathMatch } from './routes.js';

/** Per connection: responses in progress, and how many bytes had arrived when the last one ended. */
export interface Conn {
  active: number;
  readAt: number;
}

export class Exchange {
  /** A streaming response (server-sent events): close() gives it a final frame. */
  stream = false;
  /** Counted as cut at shutdown (once). */
  cut = false;
  lease?: BudgetLease;
  /** Set only while the access log is on: the connection's bytes written when the exchange began, then in and out. */
  writtenAt = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly ctx: HttpCallContext;
  /** The path's model route, matched once for the label and the router. */
  readonly model: ModelPathMatch;
  /** What the queue watches (a plain hook; the AbortController is made only when `signal` is read). */
  readonly watchers = new CancelWatchers();

  constructor(verb: string, path: string, header: (name: string) => string | undefined, readonly conn: Conn) {
    this.model = matchModelPath(path);
    this.ctx = new HttpCallContext(this, verb, path, routeLabel(verb, path, this.model), header);
  }

  /** Aborts when the client goes away or the server ends the exchange (with the reason given to cancel). */
  get signal(): AbortSignal {
    return this.watchers.signal;
  }

  /** Ends the exchange's work with `reason` (its signal aborts with it); later calls do nothing. */
  cancel(reason?: unknown): void {
    this.watchers.cancel(reason);
  }
}

class HttpCallContext implements CallContext {
  readonly protocol = 'http' as const;
  readonly start = performance.now();
  identity?: Identity;
  trace?: RequestTrace;
  private op?: string;

  constructor(private readonly x: Exchange, private readonly verb: string, private readonly path: string, readonly label: string,
    readonly header: (name: string) => string | undefined) {}

  // Only the auth step and spans read it.
  get method(): string {
    return (this.op ??= operationOf(this.verb, this.path) ?? `${this.verb} ${this.path}`);
  }

  get signal(): AbortSignal {
    return this.x.signal;
  }

  get cancel(): CancelHook {
    return this.x.watchers;
  }

  readonly deadline = undefined;

  facts(): CallFacts {
    return { method: `${this.verb} ${this.path}`, model: modelInPath(this.path, this.x.model), bytesIn: this.x.bytesIn, bytesOut: this.x.bytesOut };
  }
}
