// The floor for gRPC: a bare grpc-js server on the same proto whose ModelInfer decodes the request
// and answers its raw inputs back as outputs, with no model behind it.
import * as grpc from '@grpc/grpc-js';
import { inference } from '../src/generated/proto.js';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import { raiseFlowControlWindows } from '../src/bench/grpc-js-windows.js';

// --window N raises the HTTP/2 windows as Duet does; without it, grpc-js's 64 KiB defaults.
const w = process.argv.indexOf('--window');
const windowBytes = w > 0 ? Number(process.argv[w + 1]) : 0;

const server = new grpc.Server({ 'grpc.max_receive_message_length': 2 ** 31 - 1, 'grpc.max_send_message_length': 2 ** 31 - 1 });
server.addService({ ModelInfer: INFERENCE_SERVICE.ModelInfer }, {
  ModelInfer: (call: grpc.ServerUnaryCall<inference.ModelInferRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    const r = call.request;
    cb(null, {
      model_name: r.model_name,
      model_version: '1',
      outputs: r.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
      raw_output_contents: r.raw_input_contents,
    });
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => {
  if (e) throw e;
  raiseFlowControlWindows(server, windowBytes);
  process.stdout.write(`grpc echo listening on port ${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
