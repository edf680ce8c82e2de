// Every bad input the server must reject cleanly: the right code or status, a message that names the
// model, the input and what was expected versus received, and a server that goes on answering.
// SDK-level tests run over every protocol; wire-level REST tests (bodies, headers, statuses) follow.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { gzipSync, deflateSync } from 'node:zlib';
import { HttpClient, HttpResponse } from '../packages/client/src/node.js';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import { InferenceError, type ErrorCode } from '../src/core/errors.js';
import { startServer, type RunningServer } from '../src/server.js';
import { baseUrl, PROTOCOLS, scratchRepo, startTestServer } from './harness.js';

let server: RunningServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

/** Await a call that must fail; check it is an InferenceError with `code` whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, code: ErrorCode, ...patterns: RegExp[]): Promise<InferenceError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected a ${code} error, but the call succeeded`);
  assert.ok(err instanceof InferenceError, `expected an InferenceError, got ${String(err)}`);
  assert.equal(err.code, code, `code of: ${err.message}`);
  for (const re of patterns) assert.match(err.message, re);
  return err;
}

const fp32 = (shape: number[], fill = 1): InferInput => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name: 'INPUT0', datatype: 'FP32', shape, data: new Float32Array(n).fill(fill) };
};
const int32 = (name: string, shape: number[]): InferInput =>
  ({ name, datatype: 'INT32', shape, data: new Int32Array(shape.reduce((a, b) => a * b, 1)) });
const strings = (name: string, values: string[], shape = [1, values.length]): InferInput =>
  ({ name, datatype: 'BYTES', shape, data: values });
const numbers = (n: number, start = 0) => Array.from({ length: n }, (_, i) => String(start + i));

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    test('unknown model is NOT_FOUND and names the model', async () => {
      await rejectsWith(c.infer('no_such_model', [fp32([1, 128])]), 'NOT_FOUND', /no_such_model/);
      await rejectsWith(c.getModelMetadata('no_such_model'), 'NOT_FOUND', /no_such_model/);
      await rejectsWith(c.getModelConfig('no_such_model'), 'NOT_FOUND', /no_such_model/);
    });

    test('unknown version is NOT_FOUND and names the model, the version and the loaded ones', async () => {
      const e = await rejectsWith(c.infer('my_model', [fp32([1, 128])], { modelVersion: '99' }), 'NOT_FOUND', /'99'/, /my_model/);
      assert.match(e.message, /loaded versions: 1\b/);
      await rejectsWith(c.getModelMetadata('my_model', '99'), 'NOT_FOUND', /'99'/, /my_model/);
    });

    test('unknown input name names the model, the input and the inputs it has', async () => {
      await rejectsWith(
        c.infer('my_model', [{ ...fp32([1, 128]), name: 'INPUT9' }]),
        'INVALID_ARGUMENT', /model 'my_model'/, /no input 'INPUT9'/, /its inputs are 'INPUT0'/,
      );
    });

    test('unknown requested output names the model, the output and the outputs it has', async () => {
      await rejectsWith(
        c.infer('my_model', [fp32([1, 128])], { outputs: ['OUTPUT9'] }),
        'INVALID_ARGUMENT', /model 'my_model'/, /no output 'OUTPUT9'/, /its outputs are 'OUTPUT0'/,
      );
      await rejectsWith(
        c.infer('my_model', [fp32([1, 128])], { outputs: ['OUTPUT0', 'OUTPUT0'] }),
        'INVALID_ARGUMENT', /model 'my_model'/, /'OUTPUT0'/, /more than once/,
      );
    });

    test('wrong datatype says expected and received', async () => {
      await rejectsWith(
        c.infer('my_model', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 128], data: new Int32Array(128) }]),
        'INVALID_ARGUMENT', /model 'my_model' input 'INPUT0'/, /expected datatype FP32, got INT32/,
      );
    });

    test('wrong shape and wrong rank say expected and received', async () => {
      await rejectsWith(c.infer('my_model', [fp32([1, 127])]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /expected shape \[-1,128\], got \[1,127\]/);
      await rejectsWith(c.infer('my_model', [fp32([128])]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /expected shape \[-1,128\], got \[128\]/);
      await rejectsWith(c.infer('my_model', [fp32([1, 128, 1])]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /expected shape \[-1,128\], got \[1,128,1\]/);
    });

    test('batch over max_batch_size, and batch 0, name the limit', async () => {
      await rejectsWith(c.infer('my_model', [fp32([9, 128])]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /batch size 9/, /max_batch_size 8/);
      await rejectsWith(c.infer('my_model', [fp32([0, 128])]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /batch size 0/, /max_batch_size 8/);
    });

    test('inputs with different batch sizes name both sizes', async () => {
      await rejectsWith(
        c.infer('simple', [int32('INPUT0', [1, 16]), int32('INPUT1', [2, 16])]),
        'INVALID_ARGUMENT', /model 'simple' input 'INPUT1'/, /batch size 2/, /batch size 1\b/,
      );
    });

    test('missing input names the model and the missing input', async () => {
      await rejectsWith(c.infer('simple', [int32('INPUT0', [1, 16])]), 'INVALID_ARGUMENT',
        /model 'simple'/, /expects 2 inputs/, /missing 'INPUT1'/);
      await rejectsWith(c.infer('simple', []), 'INVALID_ARGUMENT', /model 'simple'/, /missing 'INPUT0', 'INPUT1'/);
    });

    test('duplicate input names the model and the input', async () => {
      await rejectsWith(
        c.infer('simple', [int32('INPUT0', [1, 16]), int32('INPUT0', [1, 16]), int32('INPUT1', [1, 16])]),
        'INVALID_ARGUMENT', /model 'simple' input 'INPUT0'/, /more than once/,
      );
    });

    test('data size not matching the shape says expected and received', async () => {
      const short: InferInput = { name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(100) };
      await rejectsWith(c.infer('my_model', [short]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /expected 128 elements \(512 bytes\)/, /\[1,128\]/, /got 100 elements \(400 bytes\)/);
      const long: InferInput = { name: 'INPUT0', datatype: 'FP32', shape: [2, 128], data: new Float32Array(300) };
      await rejectsWith(c.infer('my_model', [long]), 'INVALID_ARGUMENT',
        /model 'my_model' input 'INPUT0'/, /expected 256 elements \(1024 bytes\)/, /got 300 elements \(1200 bytes\)/);
    });

    test('BYTES element count not matching the shape says expected and received', async () => {
      await rejectsWith(
        c.infer('simple_string', [strings('INPUT0', numbers(15), [1, 16]), strings('INPUT1', numbers(16))]),
        'INVALID_ARGUMENT', /model 'simple_string' input 'INPUT0'/, /expected 16 BYTES elements/, /\[1,16\]/, /got 15\b/,
      );
    });

    test('classification on a BYTES output, or with a bad count, is rejected', async () => {
      const ins = [strings('INPUT0', numbers(16)), strings('INPUT1', numbers(16))];
      await rejectsWith(c.infer('simple_string', ins, { outputs: [{ name: 'OUTPUT0', classCount: 3 }] }),
        'INVALID_ARGUMENT', /model 'simple_string'/, /output 'OUTPUT0'/, /classification/, /BYTES/);
      await rejectsWith(c.infer('my_model', [fp32([1, 128])], { outputs: [{ name: 'OUTPUT0', classCount: 0 }] }),
        'INVALID_ARGUMENT', /model 'my_model' output 'OUTPUT0'/, /classification must be a positive integer, got 0/);
    });

    test('a model that rejects its input at run time names the input and element; the model goes on serving', async () => {
      const a = numbers(16);
      a[5] = 'abc';
      // The model marks this as the client's error (INVALID_ARGUMENT), not its own failure.
      const e = await rejectsWith(c.infer('simple_string', [strings('INPUT0', a), strings('INPUT1', numbers(16))]),
        'INVALID_ARGUMENT', /model 'simple_string' input INPUT0\[5\]/, /"abc"/);
      assert.doesNotMatch(e.message, /INPUT1/);
      const r = await c.infer('simple_string', [strings('INPUT0', numbers(16, 10)), strings('INPUT1', numbers(16))]);
      assert.deepEqual(r.output('OUTPUT0').strings(), numbers(16).map((_, i) => String(10 + 2 * i)));
      assert.deepEqual(r.output('OUTPUT1').strings(), new Array(16).fill('10'));
    });

    test('50 bad and 50 good requests interleaved each get their own answer', async () => {
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        calls.push((async () => {
          const r = await c.infer('my_model', [fp32([1, 128], i + 1)], { id: `good-${i}` });
          assert.equal(r.id, `good-${i}`);
          assert.deepEqual(Array.from(r.output('OUTPUT0').typed<Float32Array>()), [128 * (i + 1)]);
        })());
        calls.push((async () => {
          switch (i % 3) {
            case 0:
              await rejectsWith(c.infer('my_model', [fp32([1, 100 + i])]), 'INVALID_ARGUMENT',
                new RegExp(`expected shape \\[-1,128\\], got \\[1,${100 + i}\\]`));
              break;
            case 1: {
              const a = numbers(16);
              a[i % 16] = `bad${i}`;
              const e = await rejectsWith(c.infer('simple_string', [strings('INPUT0', a), strings('INPUT1', numbers(16))]),
                'INVALID_ARGUMENT', new RegExp(`INPUT0\\[${i % 16}\\]`), new RegExp(`"bad${i}"`));
              assert.equal((e.message.match(/bad\d+/g) ?? []).length, 1, e.message);
              break;
            }
            default:
              await rejectsWith(c.infer(`nope_${i}`, [fp32([1, 128])]), 'NOT_FOUND', new RegExp(`nope_${i}\\b`));
          }
        })());
      }
      await Promise.all(calls);
    });

    test('after all of that the server still answers correctly', async () => {
      assert.equal(await c.isServerLive(), true);
      assert.equal(await c.isServerReady(), true);
      const r = await c.infer('my_model', [fp32([1, 128])]);
      assert.deepEqual(Array.from(r.output('OUTPUT0').typed<Float32Array>()), [128]);
    });
  });
}

describe('REST wire', () => {
  let raw: HttpClient;
  before(() => {
    raw = new HttpClient(baseUrl(server));
  });
  after(() => raw.close());

  const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  const ones = (n: number) => new Array<number>(n).fill(1);
  const myModel = (data: unknown = ones(128), shape: unknown = [1, 128], datatype: unknown = 'FP32') =>
    ({ inputs: [{ name: 'INPUT0', datatype, shape, data }] });
  const infer = (model: string, b: Uint8Array | Uint8Array[], headers: http.OutgoingHttpHeaders = {}) =>
    raw.request('POST', `/v2/models/${model}/infer`, b, { 'content-type': 'application/json', ...headers });
  /** A binary-extension body: the JSON header, then the tensors' bytes. */
  const binary = (header: unknown, ...tensors: Uint8Array[]) => {
    const head = body(header);
    return { parts: [head, ...tensors], headers: { 'inference-header-content-length': head.byteLength } };
  };
  const binInput = (bytes: number, shape = [1, 128]) =>
    ({ name: 'INPUT0', datatype: 'FP32', shape, parameters: { binary_data_size: bytes } });

  /** A non-2xx answer with {"error": "..."} whose message matches every pattern. */
  function assertError(res: HttpResponse, status: number, ...patterns: RegExp[]): string {
    const text = res.text;
    assert.equal(res.status, status, text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const j = JSON.parse(text) as { error?: unknown };
    assert.equal(typeof j.error, 'string', text);
    for (const re of patterns) assert.match(j.error as string, re);
    return j.error as string;
  }

  /** A my_model answer (JSON outputs) whose single output is `sum`. */
  function assertSum(res: HttpResponse, sum: number): void {
    assert.equal(res.status, 200, res.text);
    const j = JSON.parse(res.text) as { model_name: string; outputs: { name: string; data: number[] }[] };
    assert.equal(j.model_name, 'my_model');
    assert.deepEqual(j.outputs.map((o) => [o.name, o.data]), [['OUTPUT0', [sum]]]);
  }

  test('unknown model and version are 404 with the name', async () => {
    assertError(await raw.request('GET', '/v2/models/no_such_model'), 404, /no_such_model/);
    assertError(await infer('no_such_model', body(myModel())), 404, /no_such_model/);
    assertError(await raw.request('GET', '/v2/models/my_model/versions/99'), 404, /'99'/, /my_model/);
    assertError(await infer('my_model/versions/99', body(myModel())), 404, /'99'/, /my_model/);
    // An encoded slash is part of the name, not a path.
    assertError(await raw.request('GET', '/v2/models/..%2Fsimple'), 404, /'\.\.\/simple'/);
  });

  test('unknown routes are 404', async () => {
    assertError(await raw.request('GET', '/nope'), 404, /no route for GET \/nope/);
    assertError(await raw.request('GET', '/v2/nothing/here'), 404, /no route/);
    assertError(await raw.request('DELETE', '/v2/models/my_model'), 404, /no route for DELETE/);
    assertError(await raw.request('GET', '/v2/models/my_model/infer'), 404, /no route for GET/);
  });

  test('malformed percent-encoding in a model name is 400', async () => {
    assertError(await raw.request('GET', '/v2/models/bad%ZZname'), 400, /malformed percent-encoding/, /bad%ZZname/);
    assertError(await infer('%E0%A4%A', body(myModel())), 400, /malformed percent-encoding/);
    assertError(await raw.request('GET', '/v2/models/my_model/versions/%ZZ'), 400, /malformed percent-encoding/);
  });

  test('a body that is not JSON is 400', async () => {
    assertError(await infer('my_model', body('{"inputs": [')), 400, /not valid JSON/);
    assertError(await infer('my_model', body('')), 400, /not valid JSON/);
    assertError(await infer('my_model', Buffer.from([0xff, 0xfe, 0x00, 0x01])), 400, /not valid JSON/);
  });

  test('a body that is not a JSON object is 400 and says what it got', async () => {
    for (const [text, got] of [['[1,2]', /array/], ['"hi"', /string/], ['42', /number/], ['null', /null/]] as const) {
      assertError(await infer('my_model', body(text)), 400, /must be a JSON object/, /my_model/, got);
    }
  });

  test("'inputs' that is not an array is 400 and names the model", async () => {
    assertError(await infer('my_model', body({ inputs: { INPUT0: [1] } })), 400, /model 'my_model'/, /'inputs' array/, /got an object/);
    assertError(await infer('my_model', body({})), 400, /model 'my_model'/, /'inputs' array/);
    assertError(await infer('my_model', body({ inputs: [42] })), 400, /input 0 must be an object/);
    assertError(await infer('my_model', body({ inputs: [{ datatype: 'FP32', shape: [1, 128], data: ones(128) }] })), 400, /input 0 must have a 'name'/);
  });

  test('bad datatype, shape, data or parameters in the JSON input', async () => {
    assertError(await infer('my_model', body(myModel(ones(128), [1, 128], 'FP33'))), 400, /model 'my_model' input 'INPUT0'/, /unknown datatype "FP33"/);
    assertError(await infer('my_model', body(myModel(ones(128), [1, -128]))), 400, /model 'my_model' input 'INPUT0'/, /shape \[1,-128\] has dimension 1 = -128/);
    assertError(await infer('my_model', body(myModel(ones(128), '1,128'))), 400, /model 'my_model' input 'INPUT0'/, /'shape'/, /got string "1,128"/);
    assertError(await infer('my_model', body(myModel(5))), 400, /model 'my_model' input 'INPUT0'/, /'data' must be an array, got number 5/);
    assertError(await infer('my_model', body({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }] })), 400,
      /model 'my_model' input 'INPUT0'/, /neither 'data' nor binary_data_size/);
    assertError(await infer('my_model', body(myModel(ones(100)))), 400, /model 'my_model' input 'INPUT0'/, /expected 128 elements \(512 bytes\)/, /got 100 elements \(400 bytes\)/);
    assertError(await infer('my_model', body({ ...myModel(), parameters: [] })), 400, /'parameters' must be an object/);
    assertError(await infer('my_model', body({ ...myModel(), id: 7 })), 400, /'id' must be a string/);
    assertError(await infer('my_model', body({ ...myModel(), outputs: 'OUTPUT0' })), 400, /'outputs' must be an array/);
  });

  test('a JSON data element of the wrong type names the element, the type and the value', async () => {
    const fpData: unknown[] = ones(128);
    fpData[3] = 'x';
    assertError(await infer('my_model', body(myModel(fpData))), 400,
      /model 'my_model' input 'INPUT0'/, /element 3 of FP32 data must be a number, got string "x"/);
    const i32 = { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) })) };
    i32.inputs[1].data[0] = 1.5;
    assertError(await infer('simple', body(i32)), 400,
      /model 'simple' input 'INPUT1'/, /element 0 of INT32 data must be an integer, got number 1\.5/);
    assertError(await infer('identity_uint8', body({ inputs: [{ name: 'INPUT0', datatype: 'UINT8', shape: [1, 2], data: [1, 300] }] })), 400,
      /model 'identity_uint8' input 'INPUT0'/, /element 1 of UINT8 data must be an integer in \[0, 255\], got number 300/);
    assertError(await infer('identity_int64', body({ inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 1], data: ['9223372036854775808'] }] })), 400,
      /model 'identity_int64' input 'INPUT0'/, /element 0 of INT64 data must be an integer in \[-9223372036854775808, 9223372036854775807\]/, /got string "9223372036854775808"/);
    // The same out-of-range value as a bare JSON number (parsed losslessly, never rounded into range).
    assertError(await infer('identity_int64', body('{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,1],"data":[9223372036854775808]}]}')), 400,
      /model 'identity_int64' input 'INPUT0'/, /element 0 of INT64 data/, /got bigint 9223372036854775808/);
    assertError(await infer('identity_uint64', body({ inputs: [{ name: 'INPUT0', datatype: 'UINT64', shape: [1, 1], data: ['-1'] }] })), 400,
      /model 'identity_uint64' input 'INPUT0'/, /element 0 of UINT64 data must be an integer in \[0, 18446744073709551615\], got string "-1"/);
    assertError(await infer('identity_bool', body({ inputs: [{ name: 'INPUT0', datatype: 'BOOL', shape: [1, 2], data: [true, 1] }] })), 400,
      /model 'identity_bool' input 'INPUT0'/, /element 1 of BOOL data must be true or false, got number 1/);
    assertError(await infer('simple_string', body({ inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'BYTES', shape: [1, 16], data: [...numbers(15), 15] })) })), 400,
      /model 'simple_string' input 'INPUT0'/, /element 15 of BYTES data must be a string, got number 15/);
  });

  test('binary_data_size running past the end of the body', async () => {
    const { parts, headers } = binary({ inputs: [binInput(512)] }, new Uint8Array(100));
    assertError(await infer('my_model', parts, headers), 400,
      /model 'my_model' input 'INPUT0'/, /binary_data_size 512 runs past the end of the body \(100 bytes left\)/);
  });

  test('binary_data_size too small for the shape', async () => {
    const { parts, headers } = binary({ inputs: [binInput(400)] }, new Uint8Array(400));
    assertError(await infer('my_model', parts, headers), 400, /model 'my_model' input 'INPUT0'/, /expected 128 elements \(512 bytes\)/, /got 100 elements \(400 bytes\)/);
  });

  test('binary_data_size that is not a non-negative integer says what it got', async () => {
    for (const [bad, got] of [[-4, /got -4$/], [1.5, /got 1\.5$/], ['512', /got "512"$/], [true, /got true$/]] as const) {
      const { parts, headers } = binary({ inputs: [binInput(bad as number)] }, new Uint8Array(512));
      assertError(await infer('my_model', parts, headers), 400,
        /model 'my_model' input 'INPUT0'/, /binary_data_size must be a non-negative integer/, got);
    }
    const { parts, headers } = binary({ inputs: [{ ...binInput(512), data: ones(128) }] }, new Uint8Array(512));
    assertError(await infer('my_model', parts, headers), 400, /model 'my_model' input 'INPUT0'/, /both 'data' and binary_data_size/);
  });

  test('malformed binary BYTES elements name the element and the sizes', async () => {
    const el = Buffer.alloc(4 + 2);
    el.writeUInt32LE(1000, 0);
    const head = { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: el.byteLength } }] };
    const { parts, headers } = binary(head, el);
    assertError(await infer('identity_bytes', parts, headers), 400,
      /model 'identity_bytes' input 'INPUT0'/, /BYTES element 0 claims 1000 bytes but only 2 remain/);
  });

  test('Inference-Header-Content-Length larger than the body', async () => {
    const head = body(myModel());
    assertError(await infer('my_model', head, { 'inference-header-content-length': head.byteLength + 10 }), 400,
      new RegExp(`Inference-Header-Content-Length is ${head.byteLength + 10} but the body has only ${head.byteLength} bytes`));
  });

  test('bytes left over after the binary tensors', async () => {
    const { parts, headers } = binary({ inputs: [binInput(512)] }, new Uint8Array(512), new Uint8Array(8));
    assertError(await infer('my_model', parts, headers), 400, /binary data sizes add up to 512 bytes but 520 bytes follow the JSON header/);
    // Binary bytes following a JSON-only header are leftovers too.
    const j = binary(myModel(), new Uint8Array(4));
    assertError(await infer('my_model', j.parts, j.headers), 400, /add up to 0 bytes but 4 bytes follow/);
  });

  test('Inference-Header-Content-Length that is not a non-negative integer', async () => {
    const head = body(myModel());
    for (const bad of ['abc', '-1', '1.5', '0x10', '1e2', '']) {
      assertError(await infer('my_model', head, { 'inference-header-content-length': bad }), 400,
        /Inference-Header-Content-Length must be a non-negative integer/, new RegExp(`got '${bad.replace('.', '\\.')}'`));
    }
    // A correct header length, for contrast.
    assertSum(await infer('my_model', head, { 'inference-header-content-length': head.byteLength }), 128);
  });

  test('gzip and deflate bodies: valid ones work, invalid ones are 400', async () => {
    const plain = body(myModel(ones(128)));
    assertSum(await infer('my_model', gzipSync(plain), { 'content-encoding': 'gzip' }), 128);
    assertSum(await infer('my_model', deflateSync(plain), { 'content-encoding': 'deflate' }), 128);
    assertError(await infer('my_model', plain, { 'content-encoding': 'gzip' }), 400, /not valid gzip data/);
    assertError(await infer('my_model', gzipSync(plain).subarray(0, 40), { 'content-encoding': 'gzip' }), 400, /not valid gzip data/);
    assertError(await infer('my_model', plain, { 'content-encoding': 'deflate' }), 400, /not valid deflate data/);
  });

  test('an unsupported Content-Encoding is 415 and names it', async () => {
    assertError(await infer('my_model', body(myModel()), { 'content-encoding': 'br' }), 415, /unsupported Content-Encoding 'br'/, /gzip/);
  });

  test('a client that hangs up mid-body or sends garbage does not hurt the server', async () => {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(server.http.port, '127.0.0.1', () => {
        s.write('POST /v2/models/my_model/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n{"inputs": [');
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 50);
      });
      s.on('error', reject);
    });
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(server.http.port, '127.0.0.1', () => s.end('\x00\x01 not http at all\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assertSum(await infer('my_model', body(myModel())), 128);
  });

  const deeplyNested = () => {
    const depth = 200_000;
    return body(`{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,128],"data":${'['.repeat(depth)}1${']'.repeat(depth)}}]}`);
  };

  test('deeply nested JSON data gets an error answer and the server goes on', async () => {
    const res = await infer('my_model', deeplyNested());
    assert.ok(res.status >= 400, `status ${res.status}`);
    assert.equal(typeof (JSON.parse(res.text) as { error?: unknown }).error, 'string');
    assertSum(await infer('my_model', body(myModel())), 128);
  });

  test('deeply nested JSON data is a 400 that names the input', async () => {
    assertError(await infer('my_model', deeplyNested()), 400, /model 'my_model' input 'INPUT0'/, /nested more than 64 levels/);
  });

  describe('with --http-max-body 1000', () => {
    let small: RunningServer;
    let repo: Awaited<ReturnType<typeof scratchRepo>>;
    let sc: HttpClient;
    before(async () => {
      repo = await scratchRepo(['my_model']);
      small = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, metricsPort: 0, grpcPort: null, maxBodyBytes: 1000 });
      sc = new HttpClient(baseUrl(small));
    });
    after(async () => {
      await sc.close();
      await small.stop();
      await repo.cleanup();
    });

    const big = () => body(myModel(new Array<number>(128).fill(1.2345678)));

    test('a body over the limit is 413 and names the limit', async () => {
      assert.ok(big().byteLength > 1000);
      assertError(await sc.request('POST', '/v2/models/my_model/infer', big()), 413, /exceeds the limit of 1000 bytes/, /--http-max-body/);
    });

    test('a chunked body over the limit is 413', async () => {
      const res = await new Promise<HttpResponse>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: small.http.port, method: 'POST', path: '/v2/models/my_model/infer' }, (r) => {
          const parts: Buffer[] = [];
          r.on('data', (d: Buffer) => parts.push(d));
          r.on('end', () => resolve(new HttpResponse(r.statusCode ?? 0, r.headers as Record<string, string>, Buffer.concat(parts))));
        });
        req.on('error', reject);
        const b = big();
        for (let off = 0; off < b.byteLength; off += 300) req.write(b.subarray(off, off + 300));
        req.end();
      });
      assertError(res, 413, /exceeds the limit of 1000 bytes/);
    });

    test('a small gzip body that inflates past the limit is 413', async () => {
      const bomb = gzipSync(Buffer.alloc(100_000, 0x20));
      assert.ok(bomb.byteLength < 1000);
      assertError(await sc.request('POST', '/v2/models/my_model/infer', bomb, { 'content-encoding': 'gzip' }), 413, /exceeds the limit of 1000 bytes/);
    });

    test('a body under the limit still works', async () => {
      const b = body(myModel());
      assert.ok(b.byteLength < 1000);
      assertSum(await sc.request('POST', '/v2/models/my_model/infer', b, { 'content-type': 'application/json' }), 128);
    });
  });

  test('after all of that the server still answers correctly', async () => {
    assert.equal((await raw.request('GET', '/v2/health/ready')).status, 200);
    assertSum(await infer('my_model', body(myModel())), 128);
  });
});
