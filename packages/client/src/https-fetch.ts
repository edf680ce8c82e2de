// A fetch over node:https for the TLS options a browser's fetch has no place for: a CA to trust, a client
// certificate. Only what HttpClient asks of fetch: method, headers, one body, an abort signal.

import https from 'node:https';
import { Readable } from 'node:stream';
import type { ClientTls } from './types.js';

export function httpsFetch(tls: ClientTls): typeof fetch {
  const pem = (v: string | Uint8Array | undefined) => (v === undefined || typeof v === 'string' ? v : Buffer.from(v));
  const agent = new https.Agent({ keepAlive: true, ca: pem(tls.ca), cert: pem(tls.cert), key: pem(tls.key) });
  return (input, init = {}) => new Promise<Response>((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const req = https.request(String(input), { method: init.method ?? 'GET', headers, agent, signal: init.signal ?? undefined }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      const status = res.statusCode ?? 0;
      const empty = status === 204 || status === 304 || init.method === 'HEAD';
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage, headers: h }));
    });
    req.on('error', reject);
    req.end(init.body as Uint8Array | string | undefined);
  });
}
