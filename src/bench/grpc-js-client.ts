// GrpcJsClient: the client package's gRPC client, but over @grpc/grpc-js: duet bench's streaming suite runs it as a
// row of its own, to show what a grpc-js caller sees next to duet-client's node:http2 transport.

import * as grpc from '@grpc/grpc-js';
import type { GrpcClientOptions } from '../../packages/client/src/grpc.js';
import type { inference } from '../../packages/client/src/generated/proto.js';
import { INFERENCE_METHODS, methodPath, type MessageType } from '../../packages/client/src/grpc-methods.js';
import type { InferInput, InferOptions, InferResult, ClientTls } from '../../packages/client/src/types.js';
import { AsyncQueue } from '../../packages/client/src/async-queue.js';
import type { InferenceError } from '../../packages/client/src/errors.js';
import {
  errorOfStatus, GrpcServiceClient, streamOne, streamRequest, streamResultOf,
  type InferenceMethod, type InferStream, type StreamResult,
} from '../../packages/client/src/grpc-common.js';


function channelCredentials(tls: ClientTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const buf = (pem: string | Uint8Array | undefined) => (pem === undefined ? null : Buffer.from(pem));
  return grpc.credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert));
}

/** grpc-js's serializers over a method's generated message types. */
function codecs(method: InferenceMethod) {
  const { request, response }: { request: MessageType; response: MessageType } = INFERENCE_METHODS[method];
  return {
    serialize: (v: object) => {
      const u = request.encode(v).finish();
      return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    },
    deserialize: (b: Buffer) => response.decode(b),
  };
}

export class GrpcJsClient extends GrpcServiceClient {
  readonly protocol = 'grpc' as const;
  readonly client: grpc.Client;
  private readonly timeoutMs: number | undefined;
  private readonly fixedMetadata: [string, string][];

  /** `address` like "localhost:8001" (plaintext unless `tls` is given). */
  constructor(address: string, opts: GrpcClientOptions = {}) {
    super();
    const max = opts.maxMessageBytes ?? 2 ** 31 - 1;
    this.client = new grpc.Client(address.replace(/^grpc:\/\//, ''), channelCredentials(opts.tls), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      'grpc-node.flow_control_window': opts.windowBytes ?? 8 * 1024 * 1024,
    });
    this.timeoutMs = opts.timeoutMs;
    this.fixedMetadata = Object.entries({ ...opts.headers, ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}) });
  }

  /** Fresh metadata per call (grpc-js may add to what it is given). */
  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of this.fixedMetadata) md.set(k, v);
    return md;
  }

  call<Res>(method: InferenceMethod, request: object, signal?: AbortSignal): Promise<Res> {
    const def = codecs(method);
    const options: grpc.CallOptions = this.timeoutMs ? { deadline: Date.now() + this.timeoutMs } : {};
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(methodPath(method), def.serialize, def.deserialize, request, this.metadata(), options,
        (err, res) => (err ? reject(errorOf(err)) : resolve(res as Res)));
      if (signal?.aborted) call.cancel();
      else signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /**
   * A ModelStreamInfer stream: send any number of requests, read every response (matched by id)
   * as it comes. Each response item is final when the server says the request is done.
   */
  openStream(signal?: AbortSignal): InferStream {
    const def = codecs('ModelStreamInfer');
    const call = this.client.makeBidiStreamRequest(methodPath('ModelStreamInfer'), def.serialize, def.deserialize, this.metadata(), {});
    if (signal?.aborted) call.cancel();
    else signal?.addEventListener('abort', () => call.cancel(), { once: true });
    const queue = new AsyncQueue<StreamResult>();
    // A slow reader pauses the call once STREAM_HIGH_WATER responses wait here, so HTTP/2 flow control
    // holds the server (and the model) back instead of this queue growing without bound.
    let buffered = 0;
    const push = (r: StreamResult) => {
      queue.push(r);
      if (++buffered >= STREAM_HIGH_WATER && !call.isPaused()) call.pause();
    };
    call.on('data', (m: inference.ModelStreamInferResponse) => push(streamResultOf(m)));
    call.on('error', (e: grpc.ServiceError) => {
      // Responses that came before the error and wait in the paused call still reach the reader.
      while (call.read() !== null);
      queue.end(errorOf(e));
    });
    call.on('end', () => queue.end());
    return {
      send: (model, inputs, options = {}) => {
        call.write(streamRequest(model, inputs, options));
      },
      end: () => call.end(),
      cancel: () => call.cancel(),
      responses: (async function* () {
        for await (const r of queue) {
          if (--buffered < STREAM_HIGH_WATER && call.isPaused()) call.resume();
          yield r;
        }
      })(),
    };
  }

  streamInfer(model: string, inputs: InferInput[], options: InferOptions = {}): AsyncIterable<InferResult> {
    return streamOne(this.openStream(options.signal), model, inputs, options);
  }


  async close(): Promise<void> {
    this.client.close();
  }
}

/** Responses an InferStream holds for a slow reader before it stops reading from the network. */
const STREAM_HIGH_WATER = 16;

export function errorOf(e: grpc.ServiceError): InferenceError {
  return errorOfStatus(e.code, e.details || e.message);
}
