// A bare node:http2 ModelStreamInfer client for the streaming suite: one HTTP/2 stream per generation,
// the request framed by hand and each response message decoded as it lands. grpc-js spends ~1–2 ms of
// client CPU starting each call (resolver, picker, filters, several deferred ticks), which the suite
// would otherwise count as the server's time to first token; this is the streaming twin of h2load.

import http2 from 'node:http2';
import { INFERENCE_SERVICE } from '../protocols/grpc/definitions.js';
import { inferRequest } from '../../packages/client/src/grpc-common.js';
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
