// One REST request being answered: its CallContext, its connection's counters, the memory its body
// holds, and its cancellation. Kept in one object with plain fields (no per-request closures), and the
// AbortController is made only when something waits on it (most requests never have it read).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CallContext, CallFacts, Identity } from '../../api/context.js';
import type { BudgetLease } from '../../core/budget.js';
import { CancelWatchers, type CancelHook } from '../../core/cancel.js';
import type { RequestTrace } from '../../metrics/tracing.js';
import { modelOf, routeFor, type RestRoute, type RouteHit, type RouteTable } from './route-table.js';
import { unroutedLabel, unservedOperation } from './routes.js';
import { headerIn } from './admission.js';

/** Per connection: responses in progress, and how many bytes had arrived when the last one ended. */
export interface Conn {
  active: number;
  readAt: number;
}

/** What hears of an exchange's response closing (the server). */
export interface ExchangeOwner {
  answered(x: Exchange, res: ServerResponse): void;
}

/** Is its own cancel hook (what the queue watches): the AbortController is made only when `signal` is read. */
export class Exchange extends CancelWatchers {
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
  /** Where the path leads in the route table, matched once for the label, the auth step and the router. */
  readonly hit: RouteHit | undefined;
  /** The route that answers this method there; undefined: 404. */
  readonly route: RestRoute | undefined;
  readonly socket: Socket;
  constructor(readonly owner: ExchangeOwner, routes: RouteTable, verb: string, path: string, req: IncomingMessage, readonly conn: Conn) {
    super();
    this.socket = req.socket;
    this.hit = routes.match(path);
    this.route = routeFor(this.hit, verb);
    this.ctx = new HttpCallContext(this, verb, path, this.route?.label ?? this.hit?.node.label ?? unroutedLabel(verb), req);
  }
}

class HttpCallContext implements CallContext {
  readonly protocol = 'http' as const;
  readonly start = performance.now();
  identity?: Identity;
  trace?: RequestTrace;
  private op?: string;
  private headerFn?: (name: string) => string | undefined;

  constructor(private readonly x: Exchange, private readonly verb: string, private readonly path: string, readonly label: string,
    private readonly req: IncomingMessage) {}

  /** Made when first read (the auth step, spans): most requests never read a header through the context. */
  get header(): (name: string) => string | undefined {
    return (this.headerFn ??= (name) => headerIn(this.req, name));
  }

  // Only the auth step and spans read it. A known path with the wrong method names no operation, so it
  // gets no exemption (a POST to a health route still needs the key).
  get method(): string {
    return (this.op ??= (this.x.hit ? this.x.route?.operation : unservedOperation(this.path)) ?? `${this.verb} ${this.path}`);
  }

  get signal(): AbortSignal {
    return this.x.signal;
  }

  get cancel(): CancelHook {
    return this.x;
  }

  readonly deadline = undefined;

  facts(): CallFacts {
    return { method: `${this.verb} ${this.path}`, model: modelOf(this.x.hit), bytesIn: this.x.bytesIn, bytesOut: this.x.bytesOut };
  }
}
