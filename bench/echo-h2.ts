// The gRPC transport floor: a bare node:http2 handler with the static protobufjs codecs, answering
// ModelInfer with its raw inputs as outputs. No limits, deadlines or model: what any gRPC server on
// node:http2 must at least spend per call.
import http2 from 'node:http2';
import { inference } from '../src/generated/proto.js';

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const r = inference.ModelInferRequest.decode(all.subarray(5, 5 + all.readUInt32BE(1)));
    const out = inference.ModelInferResponse.encode({
      model_name: r.model_name,
      model_version: '1',
      outputs: r.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
      raw_output_contents: r.raw_input_contents,
    }).finish();
    const frame = Buffer.allocUnsafe(5 + out.byteLength);
    frame[0] = 0;
    frame.writeUInt32BE(out.byteLength, 1);
    frame.set(out, 5);
    stream.respond({ ':status': 200, 'content-type': headers['content-type'] ?? 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '' }));
    stream.end(frame);
  });
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`h2 echo listening on port ${typeof a === 'object' && a ? a.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
