// SIGTERM on the real CLI (a child process): every accepted request finishes and its whole response is
// written (32 MB included, over REST and gRPC), idle streams and connections do not hold shutdown,
// streams still running at the end of --shutdown-grace-secs get a clean final error, and the exit code
// says whether anything had to be cut.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { inference } from '../src/generated/proto.js';
import { paramsToProto } from '../src/protocols/grpc/codec.js';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import { Cli, killAll } from './cli-process.js';
import { writeTestModels } from './fixtures/streaming-models.js';
import { scratchRepo } from './harness.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  killAll();
  for (const f of cleanups) await f();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exists = (p: string) => stat(p).then(() => true, () => false);

const MB32 = 32 * 1024 * 1024;
/** The byte the `big` model writes at offset i. */
const patternAt = (i: number) => i % 251;

/** `big`: SIZE bytes of a known pattern, after DELAY_MS; writes `started` in its folder when it has a request. */
async function writeBigModel(dir: string): Promise<void> {
  await mkdir(join(dir, 'big', '1'), { recursive: true });
  await writeFile(join(dir, 'big', 'config.pbtxt'), `name: "big"
backend: "typescript"
max_batch_size: 0
input [ { name: "SIZE", data_type: TYPE_INT32, dims: [ 1 ] }, { name: "DELAY_MS", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUT", data_type: TYPE_UINT8, dims: [ -1 ] } ]
`);
  await writeFile(join(dir, 'big', '1', 'model.mjs'), `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default class Big {
  initialize(args) { this.dir = args.modelDir; }
  async execute(requests) {
    writeFileSync(join(this.dir, 'started'), String(Date.now()));
    return Promise.all(requests.map(async (r) => {
      await new Promise((res) => setTimeout(res, r.inputs.DELAY_MS.typed()[0]));
      const n = r.inputs.SIZE.typed()[0];
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = i % 251;
      return { outputs: [{ name: 'OUT', datatype: 'UINT8', shape: [n], data: out }] };
    }));
  }
}
`);
}

/** A scratch repository with `big`, and with the streaming test models when asked. */
async function repo(streaming: boolean): Promise<string> {
  const r = await scratchRepo();
  cleanups.push(r.cleanup);
  if (streaming) await writeTestModels(r.dir);
  else await writeBigModel(r.dir);
  return r.dir;
}

async function waitForFile(path: string, cli: Cli, ms = 15_000): Promise<void> {
  for (const t = Date.now(); !(await exists(path)); await sleep(10)) {
    if (Date.now() - t > ms) assert.fail(`${path} never appeared\n${cli.output}`);
  }
}

function assertPattern(bytes: Uint8Array, what: string): void {
  assert.equal(bytes.byteLength, MB32, `${what}: ${bytes.byteLength} of ${MB32} bytes`);
  for (let i = 0; i < bytes.byteLength; i++) {
    if (bytes[i] !== patternAt(i)) assert.fail(`${what}: byte ${i} is ${bytes[i]}, expected ${patternAt(i)}`);
  }
}

const bigRequest = (delayMs: number) => ({
  inputs: [
    { name: 'SIZE', datatype: 'INT32', shape: [1], data: [MB32] },
    { name: 'DELAY_MS', datatype: 'INT32', shape: [1], data: [delayMs] },
  ],
  outputs: [{ name: 'OUT', parameters: { binary_data: true } }],
});

describe('shutdown', { timeout: 120_000 }, () => {
  test('--shutdown-grace-secs and --stream-idle-timeout take non-negative seconds; anything else exits 2 naming the flag', async () => {
    for (const [flag, value] of [['--shutdown-grace-secs', 'soon'], ['--stream-idle-timeout', '-1'], ['--stream-idle-timeout', '']]) {
      const cli = Cli.serve('/nonexistent', [`${flag}=${value}`]);
      assert.deepEqual(await cli.exit(10_000), { code: 2, signal: null }, `${flag} '${value}'`);
      assert.match(cli.stderr, new RegExp(`${flag} must be a non-negative number of seconds, got '${value}'`));
    }
    const help = new Cli(['serve', '--help']);
    await help.exit(10_000);
    assert.match(help.stdout, /--shutdown-grace-secs SECS\s[^]*?default 30;/);
    assert.match(help.stdout, /--stream-idle-timeout SECS\s[^]*?default 60;/);
  });

  test('SIGTERM while a 32 MB REST response is being written: the whole body arrives, exit 0', async () => {
    const dir = await repo(false);
    const cli = Cli.serve(dir, ['--grpc-port', 'off', '--shutdown-grace-secs', '20']);
    const { http: port } = await cli.ports(false);
    const body = Buffer.from(JSON.stringify(bigRequest(0)));
    const chunks: Buffer[] = [];
    let resume!: () => void;
    const got = new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/models/big/infer', agent: false,
        headers: { 'content-type': 'application/json', 'content-length': body.byteLength } }, (res) => {
        // Take one chunk, then stop reading: the rest of the response waits in the server's buffers.
        res.once('data', (c: Buffer) => {
          chunks.push(c);
          res.pause();
          resume = () => {
            res.on('data', (d: Buffer) => chunks.push(d));
            res.resume();
          };
          started();
        });
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`response aborted after ${chunks.reduce((n, c) => n + c.byteLength, 0)} bytes`)));
      });
      req.on('error', reject);
      req.end(body);
    });
    got.catch(() => {});
    let started!: () => void;
    await new Promise<void>((r) => (started = r));

    cli.child.kill('SIGTERM');
    await sleep(700); // the server is shutting down while the response waits for its reader
    resume();
    const r = await got;
    assert.equal(r.body.byteLength, Number(r.headers['content-length']));
    const headerLength = Number(r.headers['inference-header-content-length']);
    const header = JSON.parse(r.body.subarray(0, headerLength).toString('utf8')) as { outputs: { parameters: { binary_data_size: number } }[] };
    assert.equal(header.outputs[0].parameters.binary_data_size, MB32);
    assertPattern(r.body.subarray(headerLength), 'REST body');

    const e = await cli.exit(20_000);
    assert.deepEqual(e, { code: 0, signal: null }, cli.output);
    assert.doesNotMatch(cli.stdout, /cut/);
  });

  test('SIGTERM under load: no response that was started is cut short, exit 0', async () => {
    const dir = await repo(false);
    const cli = Cli.serve(dir, ['--grpc-port', 'off', '--shutdown-grace-secs', '20']);
    const { http: port } = await cli.ports(false);
    const size = 8 * 1024 * 1024;
    const body = Buffer.from(JSON.stringify({ ...bigRequest(0), inputs: [
      { name: 'SIZE', datatype: 'INT32', shape: [1], data: [size] },
      { name: 'DELAY_MS', datatype: 'INT32', shape: [1], data: [0] },
    ] }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let complete = 0;
    let refused = 0;
    const cut: string[] = [];
    let stopping = false;
    /** One request: 'ok', 'refused' (never answered: no response started), or a description of a cut. */
    const one = () => new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/models/big/infer', agent,
        headers: { 'content-type': 'application/json', 'content-length': body.byteLength } }, (res) => {
        let got = 0;
        let last = -1;
        // A reader slower than loopback, as real clients are: responses spend their time being written.
        res.on('data', (c: Buffer) => {
          got += c.byteLength;
          last = c[c.byteLength - 1];
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.on('close', () => {
          const want = Number(res.headers['content-length']);
          if (res.complete && got === want && res.statusCode === 200 && last === patternAt(size - 1)) resolve('ok');
          else resolve(`status ${res.statusCode}, ${got} of ${want} bytes`);
        });
      });
      req.on('error', () => resolve('refused'));
      req.end(body);
    });
    const worker = async () => {
      while (!stopping) {
        const r = await one();
        if (r === 'ok') complete++;
        else if (r === 'refused') refused++;
        else cut.push(r);
      }
    };
    try {
      const workers = Array.from({ length: 8 }, worker);
      while (complete < 16) await sleep(20);
      cli.child.kill('SIGTERM');
      const e = await cli.exit(20_000);
      stopping = true;
      await Promise.all(workers);
      assert.deepEqual(cut, [], `${cut.length} responses were cut (${complete} complete, ${refused} refused)`);
      assert.deepEqual(e, { code: 0, signal: null }, cli.output);
    } finally {
      stopping = true;
      agent.destroy();
    }
  });

  test('SIGTERM while a 32 MB gRPC response is being written: the whole message and status OK arrive, exit 0', async () => {
    const dir = await repo(false);
    const cli = Cli.serve(dir, ['--shutdown-grace-secs', '20']);
    const { grpc: port } = await cli.ports();
    const int32 = (v: number) => Buffer.from(Int32Array.of(v).buffer);
    const msg = inference.ModelInferRequest.encode({
      model_name: 'big',
      inputs: [{ name: 'SIZE', datatype: 'INT32', shape: [1] }, { name: 'DELAY_MS', datatype: 'INT32', shape: [1] }],
      raw_input_contents: [int32(MB32), int32(0)],
    }).finish();
    const frame = Buffer.alloc(5 + msg.byteLength);
    frame.writeUInt32BE(msg.byteLength, 1);
    frame.set(msg, 5);
    // A raw HTTP/2 client, so it can stop reading mid-message (HTTP/2 flow control then holds the server).
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    try {
      const req = session.request({ ':method': 'POST', ':path': INFERENCE_SERVICE.ModelInfer.path, 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      let trailers: http2.IncomingHttpHeaders = {};
      let resume!: () => void;
      let started!: () => void;
      const first = new Promise<void>((r) => (started = r));
      const done = new Promise<Buffer>((resolve, reject) => {
        req.once('data', (c: Buffer) => {
          chunks.push(c);
          req.pause();
          resume = () => {
            req.on('data', (d: Buffer) => chunks.push(d));
            req.resume();
          };
          started();
        });
        req.on('trailers', (t) => (trailers = t));
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
        req.on('close', () => reject(new Error(`stream closed (code ${req.rstCode}) after ${chunks.reduce((n, c) => n + c.byteLength, 0)} bytes`)));
      });
      done.catch(() => {});
      req.end(frame);
      await first;

      cli.child.kill('SIGTERM');
      await sleep(700);
      resume();
      const body = await done;
      assert.equal(trailers['grpc-status'], '0', `grpc-status ${trailers['grpc-status']}: ${trailers['grpc-message']}`);
      assert.equal(body[0], 0);
      const len = body.readUInt32BE(1);
      assert.equal(body.byteLength, 5 + len);
      const res = inference.ModelInferResponse.decode(body.subarray(5));
      assertPattern(res.raw_output_contents[0], 'gRPC message');
    } finally {
      session.destroy();
    }
    const e = await cli.exit(20_000);
    assert.deepEqual(e, { code: 0, signal: null }, cli.output);
    assert.doesNotMatch(cli.stdout, /cut/);
  });

  test('SIGTERM with an idle ModelStreamInfer stream and an idle keep-alive connection: the stream ends UNAVAILABLE, exit 0 at once', async () => {
    const dir = await repo(true);
    const cli = Cli.serve(dir, ['--shutdown-grace-secs', '30']);
    const ports = await cli.ports();
    // REST: one request on a keep-alive connection, which then sits idle.
    const agent = new http.Agent({ keepAlive: true });
    const client = new grpc.Client(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
    try {
      const live = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: ports.http, path: '/v2/health/live', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      assert.equal(live, 200);
      // gRPC: a stream that answered one request and stays open, doing nothing.
      const def = INFERENCE_SERVICE.ModelStreamInfer;
      const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, new grpc.Metadata(), {});
      const msgs: inference.ModelStreamInferResponse[] = [];
      let gotOne!: () => void;
      const one = new Promise<void>((r) => (gotOne = r));
      const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
        call.on('data', (m: inference.ModelStreamInferResponse) => {
          msgs.push(m);
          gotOne();
        });
        call.on('error', (e: grpc.ServiceError) => resolve(e));
        call.on('end', () => resolve(undefined));
      });
      call.write({
        model_name: 'words', id: 'w',
        inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
        raw_input_contents: [Buffer.from([2, 0, 0, 0, 0x68, 0x69])],
      });
      await one;
      assert.equal(msgs[0].error_message, '');

      const t0 = Date.now();
      cli.child.kill('SIGTERM');
      const err = await ended;
      assert.equal(err?.code, grpc.status.UNAVAILABLE, `the idle stream ended with ${err?.code}: ${err?.details}`);
      assert.match(err!.details, /shutting down/);
      const e = await cli.exit(10_000);
      assert.deepEqual(e, { code: 0, signal: null }, cli.output);
      const took = Date.now() - t0;
      assert.ok(took < 5000, `exit took ${took} ms: idle connections or streams held shutdown`);
      assert.doesNotMatch(cli.stdout, /cut/);
    } finally {
      agent.destroy();
      client.close();
    }
  });

  test('SIGTERM with a reader that stopped reading an SSE stream: cut at the end of a short grace period, exit 1, logged', async () => {
    const dir = await repo(true);
    const cli = Cli.serve(dir, ['--grpc-port', 'off', '--shutdown-grace-secs', '2']);
    const { http: port } = await cli.ports(false);
    const body = Buffer.from(JSON.stringify({ text_input: 'go', file: join(dir, 'flood.txt') }));
    let frames = 0;
    let held = false;
    let stalled!: () => void;
    const stall = new Promise<void>((r) => (stalled = r));
    let res!: http.IncomingMessage;
    const outcome = new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/models/flood/generate_stream', agent: false,
        headers: { 'content-type': 'application/json', 'content-length': body.byteLength } }, (r) => {
        res = r;
        r.on('data', (c: Buffer) => {
          frames += c.toString('latin1').split('\n\n').length - 1;
          if (frames >= 3 && !held) {
            held = true;
            r.pause(); // and read no more until the server has gone
            stalled();
          }
        });
        r.on('end', () => resolve('end'));
        r.on('error', (e) => resolve(`error: ${e.message}`));
        r.on('close', () => resolve(r.complete ? 'end' : 'cut'));
      });
      req.on('error', (e) => resolve(`error: ${e.message}`));
      req.end(body);
    });
    await stall;
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    const e = await cli.exit(10_000);
    const took = Date.now() - t0;
    assert.deepEqual(e, { code: 1, signal: null }, cli.output);
    assert.ok(took >= 1500 && took < 5000, `exit after ${took} ms with a 2 s grace period`);
    assert.match(cli.stdout, /shutdown cut 1 REST and 0 gRPC requests or streams/);
    // The reader, resuming, finds its stream cut rather than complete.
    res.resume();
    assert.notEqual(await outcome, 'end');
  });

  test('SIGTERM with streams still producing: each gets a final UNAVAILABLE (SSE error frame, gRPC status) within the grace period, exit 1', async () => {
    const dir = await repo(true);
    const cli = Cli.serve(dir, ['--shutdown-grace-secs', '2']);
    const ports = await cli.ports();
    // REST: a ticker (a token every 20 ms, for 30 s) read as it comes.
    const body = Buffer.from(JSON.stringify({ text_input: 'go', file: join(dir, 'ticker-rest.txt') }));
    let text = '';
    let restStarted!: () => void;
    const restGoing = new Promise<void>((r) => (restStarted = r));
    const sse = new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: ports.http, method: 'POST', path: '/v2/models/ticker/generate_stream', agent: false,
        headers: { 'content-type': 'application/json', 'content-length': body.byteLength } }, (r) => {
        r.setEncoding('utf8').on('data', (s: string) => {
          text += s;
          restStarted();
        });
        r.on('end', () => resolve(text));
        r.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    sse.catch(() => {});
    // gRPC: the same on ModelStreamInfer.
    const client = new grpc.Client(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
    try {
      const def = INFERENCE_SERVICE.ModelStreamInfer;
      const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, new grpc.Metadata(), {});
      let n = 0;
      let grpcStarted!: () => void;
      const grpcGoing = new Promise<void>((r) => (grpcStarted = r));
      const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
        call.on('data', () => {
          n++;
          grpcStarted();
        });
        call.on('error', (e: grpc.ServiceError) => resolve(e));
        call.on('end', () => resolve(undefined));
      });
      call.write({
        model_name: 'ticker', id: 't', parameters: paramsToProto({ file: join(dir, 'ticker-grpc.txt') }),
        inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
        raw_input_contents: [Buffer.from([2, 0, 0, 0, 0x67, 0x6f])],
      });
      await Promise.all([restGoing, grpcGoing]);

      const t0 = Date.now();
      cli.child.kill('SIGTERM');
      const [frames, err] = await Promise.all([sse, ended]);
      const last = frames.trim().split('\n\n').at(-1)!;
      assert.match(last, /^event: error\ndata: /, `the SSE stream's last frame: ${last}`);
      const data = JSON.parse(last.slice(last.indexOf('data: ') + 6)) as { error: string; code: string };
      assert.equal(data.code, 'UNAVAILABLE');
      assert.match(data.error, /shutting down/);
      assert.equal(err?.code, grpc.status.UNAVAILABLE, `the gRPC stream ended with ${err?.code}: ${err?.details}`);
      assert.match(err!.details, /shutting down/);
      assert.ok(n > 3, `${n} gRPC responses`);
      const e = await cli.exit(10_000);
      const took = Date.now() - t0;
      assert.deepEqual(e, { code: 1, signal: null }, cli.output);
      assert.ok(took < 4000, `exit after ${took} ms with a 2 s grace period`);
      assert.match(cli.stdout, /shutdown cut 1 REST and 1 gRPC requests or streams/);
    } finally {
      client.close();
    }
  });

  test('SIGTERM with requests that outlast the grace period: they are cut at its end, exit 1 with both protocols counted', async () => {
    const dir = await repo(false);
    const cli = Cli.serve(dir, ['--shutdown-grace-secs', '2']);
    const ports = await cli.ports();
    const slow = Buffer.from(JSON.stringify({ ...bigRequest(0), inputs: [
      { name: 'SIZE', datatype: 'INT32', shape: [1], data: [16] },
      { name: 'DELAY_MS', datatype: 'INT32', shape: [1], data: [60_000] },
    ] }));
    const rest = new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: ports.http, method: 'POST', path: '/v2/models/big/infer', agent: false,
        headers: { 'content-type': 'application/json', 'content-length': slow.byteLength } }, (res) => {
        res.resume();
        res.on('close', () => resolve(res.complete ? `answered ${res.statusCode}` : 'cut'));
      });
      req.on('error', (e) => resolve(`cut: ${e.message}`));
      req.end(slow);
    });
    const client = new grpc.Client(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
    try {
      const int32 = (v: number) => Buffer.from(Int32Array.of(v).buffer);
      const def = INFERENCE_SERVICE.ModelInfer;
      const rpc = new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, {
          model_name: 'big',
          inputs: [{ name: 'SIZE', datatype: 'INT32', shape: [1] }, { name: 'DELAY_MS', datatype: 'INT32', shape: [1] }],
          raw_input_contents: [int32(16), int32(60_000)],
        }, (err) => resolve(err));
      });
      await waitForFile(join(dir, 'big', 'started'), cli);
      await sleep(200); // both requests are in: one running, one queued behind it
      const t0 = Date.now();
      cli.child.kill('SIGTERM');
      const e = await cli.exit(15_000);
      const took = Date.now() - t0;
      assert.deepEqual(e, { code: 1, signal: null }, cli.output);
      assert.ok(took >= 1800 && took < 5000, `exit after ${took} ms with a 2 s grace period`);
      assert.match(cli.stdout, /shutdown cut 1 REST and 1 gRPC requests or streams/);
      assert.match(await rest, /^cut/);
      const err = await rpc;
      assert.ok(err, 'the gRPC call succeeded');
      assert.ok([grpc.status.UNAVAILABLE, grpc.status.CANCELLED, grpc.status.INTERNAL].includes(err.code), `gRPC status ${err.code}: ${err.details}`);
    } finally {
      client.close();
    }
  });

  test('SIGTERM with --shutdown-drain-secs: readiness false (400) at once while new connections are still served, then exit 0', async () => {
    const dir = await repo(false);
    const cli = Cli.serve(dir, ['--shutdown-drain-secs', '3']);
    const port = await cli.port();
    // A fresh connection per request (agent: false): the listener itself must still accept.
    const get = (path: string) => new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      }).on('error', reject);
    });
    assert.equal(await get('/v2/health/ready'), 200);
    cli.child.kill('SIGTERM');
    await cli.waitFor(/SIGTERM: not ready, serving 3 s more/, 5000);
    assert.equal(await get('/v2/health/ready'), 400, 'not ready: 400, as Triton answers');
    assert.equal(await get('/v2/models/big'), 200, 'metadata on a new connection during the drain');
    assert.deepEqual(await cli.exit(15_000), { code: 0, signal: null }, cli.output);
  });
});
