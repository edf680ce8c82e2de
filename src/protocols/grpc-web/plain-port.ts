// The plaintext gRPC port speaks HTTP/2 (gRPC, gRPC-Web) and, for browsers, which cannot speak h2c,
// HTTP/1.1 carrying gRPC-Web only. A connection's first bytes tell which: HTTP/2 starts with its
// preface ("PRI * HTTP/2.0"), HTTP/1.1 with a request line. Over TLS, ALPN picks h2 for browsers.

import http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

export class PlainPort {
  readonly server: net.Server;
  private readonly http1: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private closing = false;

  /** `onHttp1` answers each HTTP/1.1 request. */
  constructor(h2: http2.Http2Server, onHttp1: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
    this.http1 = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      // At shutdown a keep-alive client must not hold the connection open.
      if (this.closing) res.setHeader('connection', 'close');
      onHttp1(req, res);
    });
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        const n = Math.min(first.byteLength, PREFACE.byteLength);
        if (first.subarray(0, n).equals(PREFACE.subarray(0, n))) {
          h2.emit('connection', socket);
        } else {
          this.http1.emit('connection', socket);
          socket.resume();
        }
      });
    });
  }

  /** Shutdown begins: idle HTTP/1.1 connections close; those answering close once their response is out. */
  drain(): void {
    this.closing = true;
    this.http1.closeIdleConnections();
  }

  /** The end: every connection still open is cut. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
