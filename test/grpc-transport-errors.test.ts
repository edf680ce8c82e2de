// gRPC transport faults caused by the client, written against the wire (node:http2 by hand): each
// must end the call with a clean status that is not INTERNAL/UNKNOWN, the same meaning REST gives
// the same fault, and must leave the connection serving. Bad compression is INVALID_ARGUMENT as a
// bad gzip body is 400 on REST (on grpc-js it was INTERNAL); a stream that ends inside a message is
// not OK (it was); cancelling many streams does not cost the connection (on grpc-js it got
// GOAWAY(INTERNAL_ERROR) about every 1,100 cancels).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { inference } from '../src/generated/proto.js';
import type { RunningServer } from '../src/server.js';
import { frame, grpcCall, INFER_PATH, SERVER_FAULTS, STREAM_PATH, type GrpcOutcome } from './fuzz/h2.js';
import { scratchRepo, startTestServer } from './harness.js';

let server: RunningServer;
let repo: Awaited<ReturnType<typeof scratchRepo>>;
before(async () => {
  repo = await scratchRepo(['my_model']);
  server = await startTestServer(repo.dir);
});
after(async () => {
  await server.stop();
  await repo.cleanup();
});

const connect = () => {
  const s = http2.connect(`http://127.0.0.1:${server.grpc!.port}`);
  s.on('error', () => {});
  return s;
};
const request = (v = 2) => Buffer.from(inference.ModelInferRequest.encode({
  model_name: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }],
  raw_input_contents: [Buffer.from(new Float32Array(128).fill(v).buffer)],
}).finish());

/** A clean failure: a status, not OK, not a server fault, with a message. */
function cleanFailure(r: GrpcOutcome, what: string): void {
  assert.equal(r.streamError, undefined, `${what}: the stream failed below gRPC: ${r.streamError}`);
  assert.ok(!Number.isNaN(r.status), `${what}: no grpc-status`);
  assert.notEqual(r.status, 0, `${what}: finished OK`);
  assert.ok(!SERVER_FAULTS.has(r.status), `${what}: grpc-status ${r.status} (a server fault) ${r.message}`);
  assert.notEqual(r.message, '', `${what}: no grpc-message`);
}

async function stillServing(session: http2.ClientHttp2Session): Promise<void> {
  const r = await grpcCall(session, INFER_PATH, frame(request(2)));
  assert.equal(r.status, 0, `a normal call after the fault: ${r.status} ${r.message} ${r.streamError ?? ''}`);
  assert.equal(Buffer.from(inference.ModelInferResponse.decode(r.messages[0]).raw_output_contents[0]).readFloatLE(0), 256);
}

describe('gRPC transport faults', () => {
  test('a message that is not valid gzip is INVALID_ARGUMENT naming the encoding (REST says 400)', async () => {
    const s = connect();
    try {
      const garbage = Buffer.concat([gzipSync(request()).subarray(0, 12), Buffer.from('not gzip at all')]);
      for (const path of [INFER_PATH, STREAM_PATH]) {
        const r = await grpcCall(s, path, frame(garbage, { compressed: true }), { headers: { 'grpc-encoding': 'gzip' } });
        cleanFailure(r, path);
        assert.equal(r.status, 3, `${path}: ${r.status} ${r.message}`);
        assert.match(r.message, /gzip/);
      }
      await stillServing(s);
    } finally {
      s.close();
    }
  });

  test('a request stream that ends inside a message does not finish OK', async () => {
    const s = connect();
    try {
      const whole = frame(request(1));
      const cut = frame(request(1)).subarray(0, 40);
      const unary = await grpcCall(s, INFER_PATH, cut);
      cleanFailure(unary, 'ModelInfer');
      const stream = await grpcCall(s, STREAM_PATH, [whole, cut]);
      cleanFailure(stream, 'ModelStreamInfer');
      // The whole message before the cut one may or may not be answered before the status; never with an error.
      assert.ok(stream.messages.length <= 1);
      for (const m of stream.messages) assert.equal(inference.ModelStreamInferResponse.decode(m).error_message, '');
      // A length prefix promising more than ever comes.
      const promised = await grpcCall(s, STREAM_PATH, frame(Buffer.alloc(3), { declaredLength: 1000 }));
      cleanFailure(promised, 'ModelStreamInfer with a long length prefix');
      await stillServing(s);
    } finally {
      s.close();
    }
  });

  test('a stream failed after it has responded, while the client still sends, keeps its status', async () => {
    // The status goes out as trailers; the RST_STREAM(NO_ERROR) that tells the client to stop sending
    // must not overtake them (it did on every such stream: the client saw END_STREAM with no grpc-status).
    const s = connect();
    try {
      const good = frame(request(1));
      const bad = Buffer.from(good);
      bad[0] = 2;
      const one = () => new Promise<string | undefined>((resolve) => {
        const req = s.request({ ':method': 'POST', ':path': STREAM_PATH, 'content-type': 'application/grpc', te: 'trailers' });
        let status: string | undefined;
        req.on('trailers', (t) => { status = t['grpc-status'] as string | undefined; });
        req.on('error', () => {});
        // Once the first response is out, break the framing; the request side stays open.
        req.once('data', () => req.write(bad));
        req.on('data', () => {});
        req.on('close', () => resolve(status));
        req.write(good);
      });
      const statuses = await Promise.all(Array.from({ length: 20 }, one));
      assert.deepEqual(statuses, new Array(20).fill('3'));
      await stillServing(s);
    } finally {
      s.close();
    }
  });

  // nghttp2's rapid-reset guard (a burst of 1,000 RST_STREAMs, then 33/s) answers with GOAWAY. The server
  // raises it where Node lets it (22.10+); on older Node a storm past ~1,000 cancels still ends the connection.
  const resetLimitConfigurable = (() => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    return major > 22 || (major === 22 && minor >= 10);
  })();

  test('1,500 cancelled streams on one connection leave it serving, with no GOAWAY (where Node allows)', { timeout: 60_000 }, async () => {
    const s = connect();
    let goaway: { code: number; after: number } | undefined;
    let cancelled = 0;
    s.on('goaway', (code: number) => { goaway ??= { code, after: cancelled }; });
    try {
      for (; cancelled < 1500 && !s.destroyed && !s.closed; cancelled++) {
        await new Promise<void>((resolve) => {
          const req = s.request({ ':method': 'POST', ':path': cancelled % 2 ? STREAM_PATH : INFER_PATH, 'content-type': 'application/grpc', te: 'trailers' });
          req.on('error', () => {});
          req.on('close', () => resolve());
          req.write(frame(request(1)));
          // Cancel as soon as the server has seen the stream (its headers may or may not have come back).
          setImmediate(() => req.close(http2.constants.NGHTTP2_CANCEL));
        });
      }
      if (resetLimitConfigurable) {
        assert.equal(goaway, undefined, `GOAWAY (code ${goaway?.code}) after ${goaway?.after} cancelled streams`);
        await stillServing(s);
      } else {
        assert.ok(goaway === undefined || goaway.after >= 1000, `GOAWAY after only ${goaway?.after} cancelled streams`);
      }
    } finally {
      s.close();
    }
    const fresh = connect();
    try {
      await stillServing(fresh);
    } finally {
      fresh.close();
    }
  });
});
