// Bytes on the wire, counted at the socket: every TCP client socket this thread opens (node:http's
// and grpc-js's HTTP/2 sockets alike) is announced on the `net.client.socket` diagnostics channel,
// and its bytesWritten / bytesRead are what went over TCP (headers, framing and body; not the
// TCP/IP headers). Diagnostics channels are per thread, so a load-generator thread sees only its own
// sockets. Nothing sits in the data path, so counting costs no latency.

import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export interface WireBytes {
  /** Bytes the client wrote (requests). */
  written: number;
  /** Bytes the client read (responses). */
  read: number;
}

export class SocketMeter {
  private readonly live = new Map<Socket, WireBytes>();
  private closed: WireBytes = { written: 0, read: 0 };
  private readonly onSocket = (msg: unknown) => {
    const socket = (msg as { socket: Socket }).socket;
    const base = { written: 0, read: 0 };
    this.live.set(socket, base);
    socket.once('close', () => {
      // The baseline may have moved (reset) since the socket opened: read it at close time.
      const b = this.live.get(socket);
      if (!b) return;
      this.closed.written += socket.bytesWritten - b.written;
      this.closed.read += socket.bytesRead - b.read;
      this.live.delete(socket);
    });
  };

  constructor() {
    dc.subscribe('net.client.socket', this.onSocket);
  }

  /** Start counting from now (sockets already open keep being counted from their present totals). */
  reset(): void {
    this.closed = { written: 0, read: 0 };
    for (const [s, b] of this.live) {
      b.written = s.bytesWritten;
      b.read = s.bytesRead;
    }
  }

  /** Bytes since the last reset, over sockets open now and those closed since. */
  read(): WireBytes {
    let { written, read } = this.closed;
    for (const [s, b] of this.live) {
      written += s.bytesWritten - b.written;
      read += s.bytesRead - b.read;
    }
    return { written, read };
  }

  get sockets(): number {
    return this.live.size;
  }

  dispose(): void {
    dc.unsubscribe('net.client.socket', this.onSocket);
  }
}
