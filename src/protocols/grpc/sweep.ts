// One coarse timer for many calls' rare timeouts (a stalled request, trailers a client never reads).
// Each item keeps its place in the sweeper's list in one field of its own: arming and disarming are a
// few writes (no timer, no Map entry, no clock read per call), and a disarmed item leaves the list at
// once, so a finished call is not kept alive (and promoted by the GC) until the next sweep.

/** How often due entries are looked for: a timeout fires up to twice this much late. */
export const SWEEP_MS = 50;

/** The field a sweeper keeps in each item: 0 not listed, else its index in the list plus one. */
export type Slot<K extends string> = Record<K, number>;

export class Sweeper<K extends string, T extends Slot<K>> {
  private readonly items: T[] = [];
  /** The tick each listed item is due at, beside it. */
  private readonly dues: number[] = [];
  /** Sweeps so far; the clock of every due time. */
  private tick = 1;
  private timer?: NodeJS.Timeout;

  constructor(private readonly slot: K, private readonly onDue: (item: T) => void) {}

  /** (Re)arms `item` to be handed to `onDue` in about `ms` milliseconds (never sooner). */
  arm(item: T, ms: number): void {
    // The current tick may be about to end: one more makes at least `ms` pass.
    const due = this.tick + Math.ceil(ms / SWEEP_MS) + 1;
    const at = item[this.slot];
    if (at > 0) {
      this.dues[at - 1] = due;
      return;
    }
    item[this.slot] = this.items.push(item) as T[K];
    this.dues.push(due);
    if (this.timer) return;
    // Unreferenced as the per-call timers were: it never keeps the process alive.
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  disarm(item: T): void {
    const at = item[this.slot];
    if (at > 0) this.remove(item, at - 1);
  }

  /** Items armed and not yet due. */
  get size(): number {
    return this.items.length;
  }

  /** Takes the item at `i` out: the last one moves into its place. */
  private remove(item: T, i: number): void {
    item[this.slot] = 0 as T[K];
    const last = this.items.pop()!;
    const due = this.dues.pop()!;
    if (last === item) return;
    this.items[i] = last;
    this.dues[i] = due;
    last[this.slot] = (i + 1) as T[K];
  }

  private sweep(): void {
    const now = ++this.tick;
    const fired: T[] = [];
    // Backwards: what moves into a removed item's place has been looked at already.
    for (let i = this.items.length - 1; i >= 0; i--) {
      if (this.dues[i] > now) continue;
      const item = this.items[i];
      this.remove(item, i);
      fired.push(item);
    }
    // onDue may arm an item again.
    for (const item of fired) this.onDue(item);
    // Idle servers keep no timer.
    if (this.items.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
