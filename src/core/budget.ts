// One budget for the bytes of all requests in flight (bodies, messages, their decompressed forms),
// so many large requests at once queue briefly or get RESOURCE_EXHAUSTED instead of exhausting memory.

import { totalmem } from 'node:os';
import { InferenceError } from './errors.js';

/** Gives the bytes back; calling it again does nothing. */
export type Release = () => void;

export interface ByteBudgetOptions {
  /** How long a request may wait for room before it is refused (default 1 s). */
  waitMs?: number;
  /** The flag that sets the limit, named in errors. */
  flag?: string;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * The default limit: a quarter of the memory this process may use (the cgroup limit in a container,
 * else the machine's), kept between 256 MiB and 8 GiB. A quarter, because the budget counts wire
 * bytes and a request costs a few times that while it lives (the body, its decompressed copy, the
 * decoded tensors, the response), and the rest of the memory holds the models. The floor leaves room
 * for a few bodies at the default 64 MiB REST limit on small machines; the ceiling keeps one process
 * from claiming a large host's memory.
 */
export function defaultInflightBytes(): number {
  let mem = totalmem();
  // Without a cgroup limit this reports a huge number (or 0); only a real, smaller limit counts.
  const limit = (process as { constrainedMemory?: () => number }).constrainedMemory?.();
  if (limit && limit > 0 && limit < mem) mem = limit;
  return Math.min(8 * GiB, Math.max(256 * MiB, Math.floor(mem / 4)));
}

interface Waiter {
  bytes: number;
  grant: (release: Release) => void;
  fail: (e: unknown) => void;
}

export class ByteBudget {
  private inUse = 0;
  private readonly waiters: Waiter[] = [];
  private readonly waitMs: number;
  private readonly flag: string;

  constructor(readonly limit: number, opts: ByteBudgetOptions = {}) {
    if (!(limit > 0)) throw new RangeError(`byte budget must be positive, got ${limit}`);
    this.waitMs = opts.waitMs ?? 1000;
    this.flag = opts.flag ?? '--max-inflight-bytes';
  }

  /** Bytes held now. */
  get used(): number {
    return this.inUse;
  }

  /** Take `bytes` now if they fit and nobody is waiting ahead; undefined otherwise. */
  tryAcquire(bytes: number): Release | undefined {
    if (bytes > this.limit) return undefined;
    if (this.waiters.length > 0 || this.inUse + bytes > this.limit) return undefined;
    return this.take(bytes);
  }

  /**
   * Take `bytes`, waiting (first come, first served) up to the budget's wait time for room. Rejects
   * with RESOURCE_EXHAUSTED when no room appears in time or the request exceeds the whole budget, and
   * with the signal's reason when it aborts first.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<Release> {
    if (bytes > this.limit) {
      return Promise.reject(new InferenceError('RESOURCE_EXHAUSTED',
        `request of ${bytes} bytes is larger than the whole in-flight budget of ${this.limit} bytes (${this.flag})`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.tryAcquire(bytes);
    if (now) return Promise.resolve(now);
    return new Promise<Release>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        bytes,
        grant: (release) => {
          done();
          resolve(release);
        },
        fail: (e) => {
          done();
          reject(e);
          // The head leaving may let the next ones in.
          this.drain();
        },
      };
      const onAbort = () => waiter.fail(signal!.reason);
      const timer = setTimeout(() => waiter.fail(new InferenceError('RESOURCE_EXHAUSTED',
        `server busy: request needs ${bytes} bytes but ${this.inUse} of the ${this.limit}-byte in-flight budget ` +
        `(${this.flag}) stayed in use for ${this.waitMs} ms; retry later`)), this.waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private take(bytes: number): Release {
    this.inUse += bytes;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.inUse -= bytes;
      this.drain();
    };
  }

  /** Admit waiters in order while the head fits. */
  private drain(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0];
      if (this.inUse + head.bytes > this.limit) return;
      head.grant(this.take(head.bytes));
    }
  }
}

/**
 * The bytes one request holds, grown as its body arrives and given back once, when it is done.
 * Small growth is taken synchronously; only when the budget is full does `grow` wait.
 */
export class BudgetLease {
  private readonly releases: Release[] = [];
  private bytes = 0;
  private closed = false;

  constructor(private readonly budget: ByteBudget) {}

  get held(): number {
    return this.bytes;
  }

  /** Hold `n` more bytes; true when taken at once, false when the caller must `await grow(n)`. */
  tryGrow(n: number): boolean {
    if (this.closed) return false;
    const r = this.budget.tryAcquire(n);
    if (!r) return false;
    this.releases.push(r);
    this.bytes += n;
    return true;
  }

  async grow(n: number, signal?: AbortSignal): Promise<void> {
    if (n <= 0 || this.closed || this.tryGrow(n)) return;
    const r = await this.budget.acquire(n, signal);
    if (this.closed) {
      r();
      return;
    }
    this.releases.push(r);
    this.bytes += n;
  }

  /** Give everything back; later growth is refused. */
  release(): void {
    this.closed = true;
    this.bytes = 0;
    for (const r of this.releases.splice(0)) r();
  }
}
