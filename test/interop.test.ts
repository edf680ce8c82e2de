// Interop with an independent gRPC implementation: C-core gRPC (Python's grpcio) calls the gRPC
// front-end the way tritonclient does, with stubs generated from our own proto/ at test time.
// Needs Debian's Python with python3-grpcio, python3-protobuf, python3-numpy, and protoc with the
// gRPC Python plugin (protobuf-compiler, protobuf-compiler-grpc); .ci/run installs them.
// The checks live in test/interop/client.py, which prints one JSON line per check; each becomes a test here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startTestServer } from './harness.js';

const PYTHON = '/usr/bin/python3'; // Debian's, where the python3-* packages install; not a pyenv one on PATH
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

interface Run {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

interface Check {
  check: string;
  ok: boolean;
  detail: unknown;
}

function python(args: string[], timeout: number): Promise<Run> {
  // A pyenv or virtualenv setting must not redirect Debian's interpreter to other site-packages.
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'VIRTUAL_ENV']) delete env[k];
  return new Promise((resolve) => {
    execFile(PYTHON, args, { timeout, maxBuffer: 16 * 1024 * 1024, env, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        timedOut: Boolean(e?.killed),
        stdout: String(stdout),
        stderr: String(stderr) + (e && typeof e.code === 'string' ? `\n${e.message}` : ''),
      });
    });
  });
}

const tail = (s: string, n = 2000) => (s.length > n ? `...${s.slice(-n)}` : s).trim();

async function prerequisites(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist; ${INSTALL_HINT}`;
  const r = await python(['-c', 'import grpc, google.protobuf, numpy'], 30_000);
  if (r.code !== 0) return `${PYTHON} cannot import grpc, google.protobuf and numpy: ${tail(r.stderr, 600)}\n${INSTALL_HINT}`;
  return undefined;
}

const missing = await prerequisites();
if (missing) {
  test('interop prerequisites: Debian Python with grpcio, protobuf, numpy and protoc', () => {
    assert.fail(missing);
  });
} else {
  const server = await startTestServer();
  let run: Run;
  try {
    assert.ok(server.grpc, 'the test server has no gRPC front-end');
    run = await python([SCRIPT, `127.0.0.1:${server.grpc.port}`, '--proto-dir', join(ROOT, 'proto')], TIMEOUT_MS);
  } finally {
    await server.stop();
  }

  const checks = new Map<string, Check>();
  for (const line of run.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const c = JSON.parse(line) as Check;
      if (typeof c.check === 'string') checks.set(c.check, c);
    } catch {
      // not one of ours; shown below if the run failed
    }
  }
  const how = () =>
    `client.py ${run.timedOut ? `timed out after ${TIMEOUT_MS} ms` : `exited with code ${run.code}${run.signal ? ` (signal ${run.signal})` : ''}`}` +
    `\nstderr: ${tail(run.stderr) || '(empty)'}`;
  const detail = (d: unknown) => (typeof d === 'string' ? d : JSON.stringify(d));

  for (const name of new Set([...EXPECTED, ...checks.keys()])) {
    test(`grpcio interop: ${name}`, () => {
      const c = checks.get(name);
      if (!c) assert.fail(`check '${name}' was not reported; ${how()}`);
      assert.ok(c.ok, `check '${name}' failed: ${detail(c.detail)}`);
    });
  }

  test('grpcio interop: client.py ran to completion and exited 0', () => {
    assert.equal(run.code, 0, how());
  });
}
