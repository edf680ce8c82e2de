// A single-consumer queue that is its own async iterator: producers push, the consumer awaits.
// Hand-written next() rather than an async generator: a stream's every token passes through here,
// and a generator layer costs several promises and microtask turns per item.

/** The finished result (the server's core/iter.ts has the same for its stream layers). */
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  private done = false;
  private error: Error | undefined;

  push(item: T): void {
    if (this.done) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ done: false, value: item });
    } else this.items.push(item);
  }

  /** No more items; with an error, the consumer's next read throws it. */
  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    const w = this.waiter;
    this.waiter = undefined;
    if (!w) return;
    if (error) w.reject(error);
    else w.resolve(DONE);
  }

  get ended(): boolean {
    return this.done;
  }

  /** One consumer: a read while another waits is not supported. */
  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ done: false, value: this.items.shift()! });
    if (this.done) return this.error ? Promise.reject(this.error) : Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The consumer stopped reading (a `break` out of for-await); what producers push is still queued. */
  return(): Promise<IteratorResult<T>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
