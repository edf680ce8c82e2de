// The calls a server has in progress, threaded through the calls themselves: adding and removing one
// writes a few fields, where a Map would hash the call and grow, shrink and rehash its table.

/** What a listed call carries: its neighbours, and whether it streams (for shutdown). */
export interface Listed {
  listPrev?: Listed;
  listNext?: Listed;
  listed: boolean;
  streaming: boolean;
}

export class CallList<T extends Listed> {
  private head?: T;
  size = 0;

  add(call: T, streaming: boolean): void {
    if (call.listed) return;
    call.listed = true;
    call.streaming = streaming;
    call.listPrev = undefined;
    call.listNext = this.head;
    if (this.head) this.head.listPrev = call;
    this.head = call;
    this.size++;
  }

  delete(call: T): void {
    if (!call.listed) return;
    call.listed = false;
    if (call.listPrev) call.listPrev.listNext = call.listNext;
    else this.head = call.listNext as T | undefined;
    if (call.listNext) call.listNext.listPrev = call.listPrev;
    call.listPrev = call.listNext = undefined;
    this.size--;
  }

  /** A copy, so what is done to each call may remove it from the list. */
  all(): T[] {
    const out: T[] = [];
    for (let c = this.head; c; c = c.listNext as T | undefined) out.push(c);
    return out;
  }
}
