// Access control over every protocol through the SDK: the API key (Authorization: Bearer) on every
// call category, health live/ready exempt, and Triton's restricted APIs (REST headers as given, gRPC
// metadata with 'triton-grpc-protocol-'), alone and together with the key. Then what only one
// protocol shows: gRPC's health service, reflection, Generator and Predictor; REST's WWW-Authenticate,
// refusal before the body is read, and the metrics port.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HttpClient } from '../packages/client/src/node.js';
import { GrpcServiceClient } from '../packages/client/src/grpc-common.js';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import { GENERATOR_SERVICE, HEALTH_SERVICE, PREDICTOR_SERVICE } from '../src/protocols/grpc/definitions.js';
import { parseRestrictions } from '../src/security/auth.js';
import type { RunningServer } from '../src/server.js';
import { EXPLICIT, PROTOCOLS, scratchRepo, startTestServer, speaksGrpc, type ClientAuth, type Protocol } from './harness.js';
import { listServices } from './reflection-client.js';

// Made at test time; a key committed to the repository would be no key.
const KEY = randomBytes(24).toString('base64url');
const ADMIN = 'adm1n-' + randomBytes(6).toString('hex');
const INFER = 'inf3r-' + randomBytes(6).toString('hex');
const RESTRICTIONS = ['model-repository,statistics:admin-key=' + ADMIN, 'inference:infer-key=' + INFER];

const input: InferInput[] = [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(128).fill(1) }];

/** The restricted headers as each protocol's tritonclient user already sends them. */
function restrictedHeaders(p: Protocol, admin = ADMIN, infer = INFER): Record<string, string> {
  const prefix = speaksGrpc(p) ? 'triton-grpc-protocol-' : '';
  return { [`${prefix}admin-key`]: admin, [`${prefix}infer-key`]: infer };
}

async function statistics(c: InferenceClient): Promise<void> {
  if (c instanceof GrpcServiceClient) {
    await c.call('ModelStatistics', {});
    return;
  }
  const res = await (c as HttpClient).request('GET', '/v2/models/stats');
  if (res.status !== 200) throw Object.assign(new Error(res.text), { code: res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'PERMISSION_DENIED' : String(res.status) });
}

async function drain(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Every call of the SDK with its category: name -> call. */
function calls(c: InferenceClient): Record<string, [string, () => Promise<unknown>]> {
  return {
    modelReady: ['health', () => c.isModelReady('my_model')],
    serverMetadata: ['metadata', () => c.getServerMetadata()],
    modelMetadata: ['metadata', () => c.getModelMetadata('my_model')],
    modelConfig: ['model-config', () => c.getModelConfig('my_model')],
    infer: ['inference', () => c.infer('my_model', input)],
    generate: ['inference', () => c.generate('text_echo', { text_input: 'hi' })],
    generateStream: ['inference', () => drain(c.generateStream('text_echo', { text_input: 'hi' }))],
    statistics: ['statistics', () => statistics(c)],
    repositoryIndex: ['model-repository', () => c.getModelRepositoryIndex()],
    unload: ['model-repository', () => c.unloadModel('my_model')],
    load: ['model-repository', () => c.loadModel('my_model')],
  };
}

async function refused(p: Promise<unknown>, code: string, what: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (message) assert.match(e.message, message, what);
    assert.ok(!e.message.includes(KEY), `${what}: the message holds the key`);
    return true;
  }, what);
}

let server: RunningServer;
let repoDir: string;
let cleanup: () => Promise<void>;
const logs: string[] = [];
before(async () => {
  const repo = await scratchRepo(['my_model', 'text_echo']);
  cleanup = repo.cleanup;
  repoDir = repo.dir;
  server = await startTestServer(repo.dir, {
    ...EXPLICIT,
    apiKey: KEY,
    httpRestrictedApis: parseRestrictions(RESTRICTIONS, 'http-restricted-api'),
    grpcRestrictedProtocols: parseRestrictions(RESTRICTIONS, 'grpc-restricted-protocol', 'triton-grpc-protocol-'),
    log: (l) => logs.push(l),
  });
});
after(async () => {
  await server.stop();
  await cleanup();
  assert.ok(!logs.some((l) => l.includes(KEY) || l.includes(ADMIN)), 'a secret reached the log');
});

for (const proto of PROTOCOLS) {
  describe(`${proto.name}: API key and restricted APIs`, () => {
    const clients: InferenceClient[] = [];
    const client = (auth?: ClientAuth) => {
      const c = proto.client(server, auth);
      clients.push(c);
      return c;
    };
    after(() => Promise.all(clients.map((c) => c.close())));

    test('health live and ready answer without a key', async () => {
      const c = client();
      assert.equal(await c.isServerLive(), true);
      assert.equal(await c.isServerReady(), true);
    });

    test('with the key and the restricted headers every category works', async () => {
      const c = client({ token: KEY, headers: restrictedHeaders(proto) });
      for (const [name, [, call]] of Object.entries(calls(c))) await assert.doesNotReject(call(), name);
      assert.equal(await c.isModelReady('my_model'), true);
    });

    test('without a key, or with a wrong or malformed one, every other call is UNAUTHENTICATED and changes nothing', async () => {
      const auths: ClientAuth[] = [
        { headers: restrictedHeaders(proto) },
        { token: KEY.slice(0, -1), headers: restrictedHeaders(proto) },
        { token: KEY + 'x' },
        { headers: { authorization: KEY } },
      ];
      for (const auth of auths) {
        const c = client(auth);
        for (const [name, [, call]] of Object.entries(calls(c))) await refused(call(), 'UNAUTHENTICATED', `${name} ${JSON.stringify(auth)}`);
      }
      assert.equal(await client({ token: KEY }).isModelReady('my_model'), true, 'the refused unload changed nothing');
    });

    test("with the key but not the restricted headers: restricted categories are PERMISSION_DENIED with Triton's message", async () => {
      const prefix = speaksGrpc(proto) ? 'triton-grpc-protocol-' : '';
      const c = client({ token: KEY, headers: restrictedHeaders(proto, 'wrong', 'wrong') });
      for (const [name, [category, call]] of Object.entries(calls(c))) {
        if (category === 'inference') {
          await refused(call(), 'PERMISSION_DENIED', name, new RegExp(`^This (API|protocol) is restricted, expecting header '${prefix}infer-key'$`));
        } else if (category === 'model-repository' || category === 'statistics') {
          await refused(call(), 'PERMISSION_DENIED', name, new RegExp(`expecting header '${prefix}admin-key'`));
        } else {
          await assert.doesNotReject(call(), name);
        }
      }
      // Each protocol's own header name; the other's does not count (gRPC-Web's is gRPC's).
      const other: Record<string, string> = speaksGrpc(proto) ? { 'infer-key': INFER } : { 'triton-grpc-protocol-infer-key': INFER };
      await refused(client({ token: KEY, headers: other }).infer('my_model', input), 'PERMISSION_DENIED', 'other protocol header');
      assert.equal(await c.isModelReady('my_model'), true);
    });
  });
}

describe('restricted APIs without a key', () => {
  let open: RunningServer;
  before(async () => {
    open = await startTestServer(repoDir, {
      httpRestrictedApis: parseRestrictions(['inference:infer-key=' + INFER], 'http-restricted-api'),
      grpcRestrictedProtocols: parseRestrictions(['inference:infer-key=' + INFER], 'grpc-restricted-protocol', 'triton-grpc-protocol-'),
    });
  });
  after(() => open.stop());

  for (const proto of PROTOCOLS) {
    test(`${proto.name}: a tritonclient user's header opens the group; other calls need nothing`, async () => {
      const bare = proto.client(open);
      const withHeader = proto.client(open, { headers: restrictedHeaders(proto) });
      try {
        assert.equal((await bare.getModelMetadata('my_model')).name, 'my_model');
        assert.ok((await bare.getModelRepositoryIndex()).length > 0);
        await refused(bare.infer('my_model', input), 'PERMISSION_DENIED', 'infer', /expecting header '(triton-grpc-protocol-)?infer-key'/);
        assert.deepEqual(Array.from((await withHeader.infer('my_model', input)).output('OUTPUT0').typed<Float32Array>()), [128]);
      } finally {
        await Promise.all([bare.close(), withHeader.close()]);
      }
    });
  }
});

// ------------------------------------------------------------------------------------- gRPC only

describe('grpc: every service is behind the key but grpc.health.v1', () => {
  let raw: grpc.Client;
  before(() => {
    raw = new grpc.Client(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
  });
  after(() => raw.close());

  const md = (h: Record<string, string> = {}) => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(h)) m.set(k, v);
    return m;
  };
  const unary = (def: grpc.MethodDefinition<unknown, unknown>, req: object, h?: Record<string, string>) =>
    new Promise<{ err: grpc.ServiceError | null; res: unknown }>((resolve) => {
      raw.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md(h), (err, res) => resolve({ err, res }));
    });
  const serverStream = (def: grpc.MethodDefinition<unknown, unknown>, req: object, h?: Record<string, string>) =>
    new Promise<{ err: grpc.ServiceError | null; msgs: unknown[] }>((resolve) => {
      const msgs: unknown[] = [];
      const call = raw.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md(h));
      call.on('data', (m) => {
        msgs.push(m);
        if (def.path.endsWith('/Watch')) call.cancel();
      });
      call.on('error', (err: grpc.ServiceError) => resolve({ err: err.code === grpc.status.CANCELLED ? null : err, msgs }));
      call.on('end', () => resolve({ err: null, msgs }));
    });

  test('grpc.health.v1 Check and Watch answer without a key (Kubernetes probes)', async () => {
    const check = await unary(HEALTH_SERVICE.Check, { service: '' });
    assert.equal(check.err, null);
    const watch = await serverStream(HEALTH_SERVICE.Watch, { service: '' });
    assert.equal(watch.err, null);
    assert.equal(watch.msgs.length, 1);
  });

  test('Predictor.Predict and duet.Generator.Generate need the key (and the inference header)', async () => {
    const features = { features: Array(128).fill(1) };
    assert.equal((await unary(PREDICTOR_SERVICE.Predict, features)).err?.code, grpc.status.UNAUTHENTICATED);
    assert.equal((await unary(PREDICTOR_SERVICE.Predict, features, { authorization: `Bearer ${KEY}` })).err?.code, grpc.status.PERMISSION_DENIED);
    const ok = await unary(PREDICTOR_SERVICE.Predict, features, { authorization: `Bearer ${KEY}`, 'triton-grpc-protocol-infer-key': INFER });
    assert.equal(ok.err, null);
    const gen = { model: 'text_echo', prompt: 'hi' };
    const refusedGen = await serverStream(GENERATOR_SERVICE.Generate, gen);
    assert.equal(refusedGen.err?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(refusedGen.msgs.length, 0);
    const good = await serverStream(GENERATOR_SERVICE.Generate, gen, { authorization: `Bearer ${KEY}`, 'triton-grpc-protocol-infer-key': INFER });
    assert.equal(good.err, null);
    assert.ok(good.msgs.length > 0);
  });

  test('reflection needs the key', async () => {
    const addr = `127.0.0.1:${server.grpc!.port}`;
    for (const version of ['v1', 'v1alpha'] as const) {
      await refused(listServices(addr, version), 'UNAUTHENTICATED', `reflection ${version}`);
      assert.ok((await listServices(addr, version, { authorization: `Bearer ${KEY}` })).includes('inference.GRPCInferenceService'));
    }
  });
});

// ------------------------------------------------------------------------------------- REST only

/** Raw bytes to the REST port; resolves with what came back once the server answers or closes. */
function rawExchange(port: number, head: string, settleMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(text);
    }, settleMs);
    s.setEncoding('latin1').on('data', (d: string) => (text += d));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.on('error', reject);
  });
}

describe('http: the answer to a missing key', () => {
  test('401 with WWW-Authenticate: Bearer and an {"error"} body', async () => {
    const c = new HttpClient(`127.0.0.1:${server.http.port}`);
    try {
      const res = await c.request('GET', '/v2');
      assert.equal(res.status, 401);
      assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
      assert.match((JSON.parse(res.text) as { error: string }).error, /Authorization: Bearer <key>/);
    } finally {
      await c.close();
    }
  });

  test('is sent before the body is read (a client that declares 1 MB and sends none gets it at once)', async () => {
    const t0 = Date.now();
    const reply = await rawExchange(server.http.port,
      'POST /v2/repository/models/my_model/unload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 401 /);
    assert.match(reply, /connection: close/i);
    assert.ok(Date.now() - t0 < 2500, 'the server waited for the body');
  });

  test('the metrics port needs the key too (Prometheus sends it as a bearer token)', async () => {
    const m = new HttpClient(`127.0.0.1:${server.metrics!.port}`);
    try {
      const no = await m.request('GET', '/metrics');
      assert.equal(no.status, 401);
      assert.match(String(no.headers['www-authenticate']), /^Bearer\b/);
      assert.equal((await m.request('GET', '/metrics', undefined, { authorization: 'Bearer nope' })).status, 401);
      const yes = await m.request('GET', '/metrics', undefined, { authorization: `Bearer ${KEY}` });
      assert.equal(yes.status, 200);
      assert.match(yes.text, /nv_inference_request_success/);
    } finally {
      await m.close();
    }
  });

  test('restricted header names match in any case, as HTTP header names do', async () => {
    const c = new HttpClient(`127.0.0.1:${server.http.port}`, { token: KEY, headers: { 'Admin-KEY': ADMIN } });
    try {
      assert.ok((await c.getModelRepositoryIndex()).length > 0);
    } finally {
      await c.close();
    }
  });
});
