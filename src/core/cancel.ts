// A request's cancellation as plain fields: what waits on it registers a function, and the transport
// calls them when the client goes away. An AbortController, its signal and an EventTarget listener cost
// several µs per request; this costs next to nothing, so the hot path (a queued infer) uses it and the
// AbortSignal is made only for code that needs one.

export interface CancelHook {
  /** True once the call is cancelled. */
  readonly cancelled: boolean;
  /** `fn` runs once when the call is cancelled (not when it is already: check `cancelled` first). */
  onCancel(fn: () => void): void;
  offCancel(fn: () => void): void;
}

/**
 * The watchers of one call: the first in a field (the usual one), more in an array. Also the call's one
 * AbortSignal, made only when something reads `signal`, so both kinds of waiter hear the same cancel.
 */
export class CancelWatchers implements CancelHook {
  cancelled = false;
  private first?: () => void;
  private rest?: (() => void)[];
  private ac?: AbortController;
  private reason: unknown;

  /** Aborts (with the reason given to cancel) when the call is cancelled. */
  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.cancelled) this.ac.abort(this.reason);
    }
    return this.ac.signal;
  }

  onCancel(fn: () => void): void {
    if (!this.first) this.first = fn;
    else (this.rest ??= []).push(fn);
  }

  offCancel(fn: () => void): void {
    if (this.first === fn) this.first = undefined;
    else if (this.rest) {
      const i = this.rest.indexOf(fn);
      if (i >= 0) this.rest.splice(i, 1);
    }
  }

  /** Marks the call cancelled, aborts the signal if one was made, and runs each watcher once. */
  cancel(reason?: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.reason = reason;
    this.ac?.abort(reason);
    const first = this.first;
    const rest = this.rest;
    this.first = this.rest = undefined;
    first?.();
    if (rest) for (const fn of rest) fn();
  }
}
