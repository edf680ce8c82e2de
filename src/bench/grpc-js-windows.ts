// The grpc-js echo floor's HTTP/2 windows, raised as Duet's own server raises them.

import type http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/**
 * grpc-js has no server option for HTTP/2 windows, so each new session gets larger ones: the
 * SETTINGS initial window for its streams and the connection window. This (used for the grpc-js floor only) reaches into grpc-js's
 * list of its http2 servers (call after bindAsync); if that ever moves, the defaults stay
 * (slower on large messages, still correct).
 */
export function raiseFlowControlWindows(server: grpc.Server, windowBytes: number): void {
  const servers = (server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || windowBytes <= 65535) return;
  const win = Math.min(windowBytes, 2 ** 31 - 1);
  for (const s of servers.keys()) {
    s.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: win });
        session.setLocalWindowSize(win);
      } catch {
        // session already closing
      }
    });
  }
}
