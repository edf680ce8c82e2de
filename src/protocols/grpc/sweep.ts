// One coarse timer for many calls' rare timeouts (a stalled request, trailers a client never reads):
// a call that ends normally only sets and deletes a map entry instead of making and clearing a timer.

/** How often due entries are looked for: a timeout fires up to this much late. */
export const SWEEP_MS = 50;

export class Sweeper<T> {
  private readonly due = new Map<T, number>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly onDue: (item: T) => void) {}

  /** (Re)arms `item` to be handed to `onDue` in about `ms` milliseconds. */
  arm(item: T, ms: number): void {
    this.due.set(item, Date.now() + ms);
    if (this.timer) return;
    // Unreferenced as the per-call timers were: it never keeps the process alive.
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  disarm(item: T): void {
    this.due.delete(item);
  }

  get size(): number {
    return this.due.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [item, at] of this.due) {
      if (at > now) continue;
      this.due.delete(item);
      this.onDue(item);
    }
    // Idle servers keep no timer.
    if (this.due.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
