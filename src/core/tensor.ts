// Tensors as the server carries them; the codec is shared with the client package, which owns it.

export * from '../../packages/client/src/tensor.js';

/**
 * Buffers whose owner gave them up: the request alone references them (e.g. a REST body read into a
 * buffer of its own), so the backend may transfer them to its worker thread instead of copying the
 * tensors out; they are detached afterwards.
 */
const handedOver = new WeakSet<ArrayBufferLike>();

export function handOver(buffer: ArrayBufferLike): void {
  if (buffer instanceof ArrayBuffer) handedOver.add(buffer);
}

/** True once per handed-over buffer: the caller now owns it. */
export function takeOver(buffer: ArrayBufferLike): buffer is ArrayBuffer {
  return handedOver.delete(buffer);
}
