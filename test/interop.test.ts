// Interop with an independent gRPC implementation: C-core gRPC (Python's grpcio) calls the gRPC
// front-end the way tritonclient does, with stubs generated from our own proto/ at test time.
// Needs Debian's Python with python3-grpcio, python3-protobuf, python3-numpy, and protoc with the
// gRPC Python plugin (protobuf-compiler, protobuf-compiler-grpc); .ci/run installs them.
// The checks live in test/interop/client.py, which prints one JSON line per check; each becomes a test here.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, startTestServer } from './harness.js';
import { checkTests, python, pythonMissing } from './python.js';

const SCRIPT = join(ROOT, 'test', 'interop', 'client.py');
const PACKAGES = 'python3-grpcio python3-protobuf python3-numpy protobuf-compiler protobuf-compiler-grpc';
const INSTALL_HINT = `install the Debian packages: apt-get install -y ${PACKAGES} (.ci/run does this in CI)`;
const TIMEOUT_MS = 60_000;

/** Every check client.py makes; one missing from its output fails by name. */
const EXPECTED = [
  'stubs', 'connect', 'server_live', 'server_ready', 'model_ready', 'server_metadata', 'model_metadata', 'model_config',
  'infer_my_model_raw', 'infer_simple_int32_raw', 'infer_simple_string_bytes_raw',
  'infer_typed_fp32_contents', 'infer_typed_int_contents', 'infer_typed_bytes_contents',
  'error_wrong_shape_invalid_argument', 'error_unknown_model_not_found', 'error_unknown_model_metadata_not_found',
  'predictor_predict', 'health_check', 'large_message_6mb', 'compression_gzip', 'compression_deflate',
];

checkTests('grpcio interop', 'client.py', EXPECTED, async () => {
  const missing = await pythonMissing('grpc, google.protobuf, numpy', INSTALL_HINT);
  if (missing) throw new Error(missing);
  const server = await startTestServer();
  try {
    assert.ok(server.grpc, 'the test server has no gRPC front-end');
    return await python([SCRIPT, `127.0.0.1:${server.grpc.port}`, '--proto-dir', join(ROOT, 'proto')], TIMEOUT_MS);
  } finally {
    await server.stop();
  }
}, TIMEOUT_MS);
