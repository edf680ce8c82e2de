// Bare clients for the streaming suite. ModelStreamInfer over node:http2: one HTTP/2 stream per
// generation, the request framed by hand and each response message decoded as it lands. SSE over
// node:http: BareSseClient, below. grpc-js spends ~1–2 ms of
// client CPU starting each call (resolver, picker, filters, several deferred ticks), which the suite
// would otherwise count as the server's time to first token; this is the streaming twin of h2load.

import http from 'node:http';
import http2 from 'node:http2';
import { INFERENCE_SERVICE } from '../protocols/grpc/definitions.js';
import { inferRequest } from '../../packages/client/src/grpc-common.js';
import { sseEvent } from '../../packages/client/src/sse.js';
import type { inference } from '../generated/proto.js';

const METHOD = INFERENCE_SERVICE.ModelStreamInfer;

export class BareStreamClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(address: string) {
    this.session = http2.connect(`http://${address}`);
    this.session.on('error', () => {});
  }

  /**
   * One request on its own stream: yields each response message (one per token for tiny_gpt) and
   * returns when the server ends the call; an error_message or a non-OK status throws.
   */
  async *generate(model: string, text: string, parameters: Record<string, number>): AsyncIterable<inference.ModelInferResponse> {
    const msg = METHOD.requestSerialize(inferRequest(model, [{ name: 'text_input', datatype: 'BYTES', shape: [1], data: [text] }], { parameters }));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(msg.byteLength, 1);
    const st = this.session.request({ ':method': 'POST', ':path': METHOD.path, 'content-type': 'application/grpc', te: 'trailers' });
    st.end(Buffer.concat([head, msg]));
    let status: string | undefined;
    let message = '';
    st.on('trailers', (t) => {
      status = String(t['grpc-status']);
      message = String(t['grpc-message'] ?? '');
    });
    st.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
    });
    let buf: Buffer = Buffer.alloc(0);
    let read = false;
    try {
      for await (const chunk of st) {
        buf = buf.byteLength ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
        while (buf.byteLength >= 5 && buf.byteLength >= 5 + buf.readUInt32BE(1)) {
          const len = buf.readUInt32BE(1);
          const m = METHOD.responseDeserialize(buf.subarray(5, 5 + len)) as inference.ModelStreamInferResponse;
          buf = buf.subarray(5 + len);
          if (m.error_message) throw new Error(`ModelStreamInfer: ${m.error_message}`);
          yield m.infer_response as inference.ModelInferResponse;
        }
      }
      read = true;
    } finally {
      // Only a stream left midway is reset (resetting every finished one looks like a rapid-reset flood).
      if (!read && !st.closed) st.close();
    }
    if (status !== '0') throw new Error(`ModelStreamInfer: status ${status ?? 'none'} ${message}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.session.close(() => resolve()));
  }
}

/**
 * A bare node:http generate_stream client (one keep-alive connection): the request written by hand and
 * each `data:` event parsed as it lands. The SDK's fetch client spends client CPU per event (web streams,
 * a TextDecoder, an async generator) that the suite would otherwise count as the server's time.
 */
export class BareSseClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly url: URL;

  constructor(base: string) {
    this.url = new URL(base.includes('://') ? base : `http://${base}`);
  }

  /** One generation: yields each event's JSON; an `event: error` or a status ≥ 400 throws. */
  async *generate(model: string, body: Record<string, unknown>): AsyncIterable<Record<string, unknown>> {
    const payload = Buffer.from(JSON.stringify(body));
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({
        host: this.url.hostname, port: this.url.port, method: 'POST', path: `/v2/models/${model}/generate_stream`, agent: this.agent,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': payload.byteLength },
      }, resolve);
      req.on('error', reject);
      req.end(payload);
    });
    if ((res.statusCode ?? 0) >= 400) {
      let text = '';
      for await (const c of res) text += String(c);
      throw new Error(`generate_stream: status ${res.statusCode} ${text}`);
    }
    let buf = '';
    let read = false;
    try {
      for await (const chunk of res) {
        buf += String(chunk);
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = sseEvent(frame);
          if (!ev) continue;
          if (ev.event === 'error') throw new Error(`generate_stream: ${ev.data}`);
          yield JSON.parse(ev.data) as Record<string, unknown>;
        }
      }
      read = true;
    } finally {
      if (!read) res.destroy();
    }
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}
