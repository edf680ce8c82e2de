// The reflection answers themselves, without a network: which symbols resolve to which file, what goes
// out with a file, and the error answers.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { grpc as g } from '../../../generated/proto.js';
import { answer, catalogFor, MAX_WAITING_REQUESTS, reflectionImpl } from './service.js';

const PROTO_DIR = fileURLToPath(new URL('../../../../../proto', import.meta.url));
const catalog = catalogFor(PROTO_DIR);
const SERVICES = ['inference.GRPCInferenceService', 'Predictor'];
const d = createRequire(import.meta.url)('protobufjs/ext/descriptor') as {
  FileDescriptorProto: { decode(b: Uint8Array): { name: string } };
};

function ask(fields: Record<string, unknown>, sent = new Set<string>()) {
  const req = g.reflection.v1.ServerReflectionRequest.fromObject({ host: 'h', ...fields });
  // Through the wire format, as a response really travels.
  const bytes = g.reflection.v1.ServerReflectionResponse.encode(answer(catalog, SERVICES, req, sent)).finish();
  return g.reflection.v1.ServerReflectionResponse.decode(bytes);
}
const fileNames = (r: g.reflection.v1.ServerReflectionResponse) =>
  (r.file_descriptor_response?.file_descriptor_proto ?? []).map((b) => d.FileDescriptorProto.decode(b).name);

describe('reflection answers', () => {
  test('list_services names what the server says it serves, echoing host and request', () => {
    const r = ask({ list_services: '*' });
    assert.deepEqual(r.list_services_response?.service?.map((s) => s.name), SERVICES);
    assert.equal(r.valid_host, 'h');
    assert.equal(r.original_request?.list_services, '*');
  });

  test('every kind of symbol resolves to the file declaring it, with or without a leading dot', () => {
    const where: Record<string, string> = {
      'inference.GRPCInferenceService': 'grpc_service.proto',
      'inference.GRPCInferenceService.ModelInfer': 'grpc_service.proto',
      '.inference.ModelInferRequest': 'grpc_service.proto',
      'inference.ModelInferRequest.InferInputTensor': 'grpc_service.proto',
      'inference.ModelInferRequest.ParametersEntry': 'grpc_service.proto',
      'inference.ModelInferRequest.raw_input_contents': 'grpc_service.proto',
      'inference.InferParameter.parameter_choice': 'grpc_service.proto',
      'inference.ModelConfig': 'model_config.proto',
      'inference.DataType': 'model_config.proto',
      'inference.TYPE_FP32': 'model_config.proto', // an enum value lives beside its enum
      'Predictor': 'predictor.proto',
      'Predictor.Predict': 'predictor.proto',
      'PredictRequest': 'predictor.proto',
      '.PredictResponse.score': 'predictor.proto',
      'grpc.health.v1.HealthCheckResponse.ServingStatus': 'health.proto',
      'grpc.health.v1.HealthCheckResponse.SERVING': 'health.proto',
      'duet.Generator': 'generator.proto',
      'grpc.reflection.v1.ServerReflection': 'reflection.proto',
      'grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo': 'reflection_v1alpha.proto',
    };
    for (const [symbol, file] of Object.entries(where)) {
      const r = ask({ file_containing_symbol: symbol });
      assert.equal(r.message_response, 'file_descriptor_response', `${symbol}: ${JSON.stringify(r.error_response)}`);
      assert.equal(fileNames(r)[0], file, symbol);
    }
  });

  test('a file goes out first, then its imports; on one stream each import only once', () => {
    const sent = new Set<string>();
    assert.deepEqual(fileNames(ask({ file_containing_symbol: 'inference.GRPCInferenceService' }, sent)), ['grpc_service.proto', 'model_config.proto']);
    // Asked again: the file itself always comes, the import it already has does not.
    assert.deepEqual(fileNames(ask({ file_by_filename: 'grpc_service.proto' }, sent)), ['grpc_service.proto']);
    assert.deepEqual(fileNames(ask({ file_by_filename: 'model_config.proto' }, sent)), ['model_config.proto']);
    assert.deepEqual(fileNames(ask({ file_by_filename: 'reflection_v1alpha.proto' })), ['reflection_v1alpha.proto', 'reflection.proto']);
  });

  test('unknown names answer NOT_FOUND naming them', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ file_containing_symbol: 'no.such.Symbol' }, /unknown symbol 'no\.such\.Symbol'/],
      [{ file_containing_symbol: 'ModelInferRequest' }, /unknown symbol 'ModelInferRequest'/], // needs its package
      [{ file_by_filename: 'nope.proto' }, /unknown file 'nope\.proto'; the files are .*grpc_service\.proto/],
      [{ file_containing_extension: { containing_type: 'inference.ModelConfig', extension_number: 100 } }, /'inference\.ModelConfig' has no extension 100/],
      [{ file_containing_extension: { containing_type: 'no.Such', extension_number: 1 } }, /unknown message type 'no\.Such'/],
      [{ all_extension_numbers_of_type: 'no.Such' }, /unknown message type 'no\.Such'/],
    ];
    for (const [req, message] of cases) {
      const r = ask(req);
      assert.equal(r.message_response, 'error_response', JSON.stringify(req));
      assert.equal(r.error_response?.error_code, 5, JSON.stringify(req));
      assert.match(r.error_response?.error_message ?? '', message);
    }
  });

  test('all_extension_numbers_of_type of a known message: none, under its plain full name', () => {
    const r = ask({ all_extension_numbers_of_type: '.inference.ModelConfig' });
    assert.equal(r.message_response, 'all_extension_numbers_response');
    assert.equal(r.all_extension_numbers_response?.base_type_name, 'inference.ModelConfig');
    assert.deepEqual(r.all_extension_numbers_response?.extension_number, []);
  });

  test('a request that asks nothing -> INVALID_ARGUMENT listing what it may ask', () => {
    const r = ask({});
    assert.equal(r.error_response?.error_code, 3);
    assert.match(r.error_response?.error_message ?? '', /set one of file_by_filename, file_containing_symbol/);
  });
});

/** A call that takes writes only while `open`, as a transport with a full buffer would. */
class FakeCall extends EventEmitter {
  open = true;
  written: g.reflection.v1.IServerReflectionResponse[] = [];
  ended = false;
  status?: { code: number; details: string };
  constructor() {
    super();
    this.on('error', (e: { code: number; details: string }) => (this.status = e));
  }
  write(m: g.reflection.v1.IServerReflectionResponse): boolean {
    this.written.push(m);
    return this.open;
  }
  end(): void {
    this.ended = true;
  }
}

function handler() {
  const call = new FakeCall();
  reflectionImpl(PROTO_DIR, () => SERVICES).ServerReflectionInfo(call as never);
  const request = (symbol: string) => g.reflection.v1.ServerReflectionRequest.create({ file_containing_symbol: symbol });
  return { call, request };
}

describe('the ServerReflectionInfo stream', () => {
  test('answers wait while the transport is full, then go out in order, then the stream ends', () => {
    const { call, request } = handler();
    call.open = false;
    for (const s of ['Predictor', 'duet.Generator', 'grpc.health.v1.Health']) call.emit('data', request(s));
    call.emit('end');
    assert.equal(call.written.length, 1, 'one answer, then the full transport holds the rest back');
    assert.equal(call.ended, false);
    call.open = true;
    call.emit('drain');
    assert.deepEqual(call.written.map((r) => r.original_request?.file_containing_symbol), ['Predictor', 'duet.Generator', 'grpc.health.v1.Health']);
    assert.equal(call.ended, true);
    assert.equal(call.status, undefined);
  });

  test('a client that reads nothing while sending ever more questions gets RESOURCE_EXHAUSTED', () => {
    const { call, request } = handler();
    call.open = false;
    for (let i = 0; i <= MAX_WAITING_REQUESTS + 1; i++) call.emit('data', request('inference.GRPCInferenceService'));
    assert.equal(call.written.length, 1);
    assert.equal(call.status?.code, 8);
    assert.match(call.status?.details ?? '', /reflection requests are waiting while the client reads no answers/);
    call.emit('drain');
    assert.equal(call.written.length, 1, 'nothing more after the failure');
  });
});
