// A stream's layers as plain iterators: every token of a decoupled model passes through each layer,
// and an async generator costs several promises and microtask turns per item where this costs one.

/** How a mapped stream ended: its source finished, something threw, or the consumer stopped reading. */
export type EndHow = 'done' | 'error' | 'return';

/** The one finished result every stream iterator gives. */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * `open()`'s items through `map`, opened at the first read. `end` runs once, however the stream ends;
 * on an error it is given the error and returns the one to throw (the same, or a translation).
 */
export function mapStream<T, U>(
  open: () => AsyncIterable<T> | Promise<AsyncIterable<T>>,
  map: (item: T) => U,
  end?: (how: EndHow, err?: unknown) => unknown,
): AsyncIterableIterator<U> {
  let src: AsyncIterator<T> | undefined;
  let state: 'new' | 'open' | 'ended' = 'new';
  const finish = (how: EndHow, err?: unknown): unknown => {
    if (state === 'ended') return err;
    state = 'ended';
    return end ? end(how, err) : err;
  };
  const fail = (e: unknown): never => {
    throw finish('error', e);
  };
  const step = (r: IteratorResult<T>): IteratorResult<U> => {
    if (r.done) {
      finish('done');
      return DONE;
    }
    try {
      return { done: false, value: map(r.value) };
    } catch (e) {
      src?.return?.()?.catch(() => {});
      return fail(e);
    }
  };
  const read = (): Promise<IteratorResult<U>> => src!.next().then(step, fail);
  const it: AsyncIterableIterator<U> = {
    next() {
      if (state === 'open') return read();
      if (state === 'ended') return Promise.resolve(DONE);
      state = 'open';
      let opened;
      try {
        opened = open();
      } catch (e) {
        return Promise.reject(finish('error', e));
      }
      if (opened instanceof Promise) {
        return opened.then((o) => {
          src = o[Symbol.asyncIterator]();
          // The consumer stopped reading while the source was being opened: it is closed unread.
          if (state === 'ended') {
            src.return?.()?.catch(() => {});
            return DONE;
          }
          return read();
        }, fail);
      }
      src = opened[Symbol.asyncIterator]();
      return read();
    },
    return() {
      if (state === 'open') {
        finish('return');
        src?.return?.()?.catch(() => {});
      }
      state = 'ended';
      return Promise.resolve(DONE);
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
