// One coarse timer for many calls' rare timeouts (a stalled request, trailers a client never reads).
// Arming writes a tick number into a field of the item and, the first time, appends the item to a
// list: no timer, no Map entry and no clock read per call. Disarmed items leave the list at the next sweep.

/** How often due entries are looked for: a timeout fires up to twice this much late. */
export const SWEEP_MS = 50;

/** The field a sweeper keeps in each item: 0 not listed, -1 listed but disarmed, else the tick it is due at. */
export type Slot<K extends string> = Record<K, number>;

export class Sweeper<K extends string, T extends Slot<K>> {
  private items: T[] = [];
  /** Sweeps so far; the clock of every due time. */
  private tick = 1;
  private timer?: NodeJS.Timeout;

  constructor(private readonly slot: K, private readonly onDue: (item: T) => void) {}

  /** (Re)arms `item` to be handed to `onDue` in about `ms` milliseconds (never sooner). */
  arm(item: T, ms: number): void {
    // The current tick may be about to end: one more makes at least `ms` pass.
    const due = this.tick + Math.ceil(ms / SWEEP_MS) + 1;
    if (item[this.slot] === 0) this.items.push(item);
    item[this.slot] = due as T[K];
    if (this.timer) return;
    // Unreferenced as the per-call timers were: it never keeps the process alive.
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  disarm(item: T): void {
    if (item[this.slot] > 0) item[this.slot] = -1 as T[K];
  }

  /** Items armed and not yet due. */
  get size(): number {
    let n = 0;
    for (const item of this.items) if (item[this.slot] > 0) n++;
    return n;
  }

  private sweep(): void {
    const now = ++this.tick;
    const list = this.items;
    this.items = [];
    for (const item of list) {
      const at = item[this.slot];
      if (at > now) this.items.push(item);
      else {
        item[this.slot] = 0 as T[K];
        // onDue may arm it again (onto the new list).
        if (at > 0) this.onDue(item);
      }
    }
    // Idle servers keep no timer.
    if (this.items.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
