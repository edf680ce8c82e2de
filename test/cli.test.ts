// The real CLI in a child process: flags, the startup log, and a graceful SIGTERM.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { MODELS, scratchRepo } from './harness.js';
import { Cli, killAll } from './cli-process.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  killAll();
  for (const f of cleanups) await f();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One request on a fresh connection (no keep-alive pool); rejects with the socket error. */
function request(port: number, method: string, path: string, body?: unknown, agent: http.Agent | false = false): Promise<{ status: number; body: string }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, timeout: 20_000, headers: data ? { 'content-type': 'application/json', 'content-length': data.byteLength } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function put(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

async function repoWith(models: string[]): Promise<string> {
  const r = await scratchRepo(models);
  cleanups.push(r.cleanup);
  return r.dir;
}

/** my_model with dims that contradict its ONNX file. */
async function addBroken(dir: string, name: string): Promise<void> {
  const text = await readFile(join(MODELS, 'my_model', 'config.pbtxt'), 'utf8');
  await put(join(dir, name, 'config.pbtxt'), text.replace('name: "my_model"', `name: "${name}"`).replace('dims: [ 128 ]', 'dims: [ 127 ]'));
  await cp(join(MODELS, 'my_model', '1', 'model.onnx'), join(dir, name, '1', 'model.onnx'));
}

/** Writes a "started" file in its model folder when a request begins, then waits DELAY_MS. */
const SLOW_MODEL_TS = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default class Slow {
  private dir = '';
  initialize(args: { modelDir: string }): void {
    this.dir = args.modelDir;
  }
  async execute(requests: any[]): Promise<any[]> {
    writeFileSync(join(this.dir, 'started'), String(Date.now()));
    const ms = requests[0].inputs.DELAY_MS.typed()[0];
    await new Promise((resolve) => setTimeout(resolve, ms));
    return requests.map(() => ({ outputs: [{ name: 'DONE', datatype: 'BYTES', shape: [1], data: ['done'] }] }));
  }
}
`;

const SLOW_CONFIG = `
name: "slow"
backend: "typescript"
max_batch_size: 0
input [ { name: "DELAY_MS", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "DONE", data_type: TYPE_STRING, dims: [ 1 ] } ]
`;

const exists = (p: string) => stat(p).then(() => true, () => false);

describe('cli', { timeout: 120_000 }, () => {
  test('--help prints usage and exits 0', async () => {
    for (const args of [['--help'], ['serve', '--help'], []]) {
      const cli = new Cli(args);
      const e = await cli.exit(10_000);
      assert.deepEqual(e, { code: 0, signal: null }, `duet ${args.join(' ')}`);
      assert.match(cli.stdout, /Usage:/);
      assert.match(cli.stdout, /duet serve --model-repository DIR/);
      assert.match(cli.stdout, /--http-port/);
      for (const flag of ['--model-control-mode', '--load-model', '--repository-poll-secs', '--max-instances-per-model']) assert.match(cli.stdout, new RegExp(flag));
      assert.equal(cli.stderr, '');
    }
  });

  test('serve without --model-repository exits 2 and says what is missing', async () => {
    const cli = new Cli(['serve', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0']);
    const e = await cli.exit(10_000);
    assert.deepEqual(e, { code: 2, signal: null });
    assert.match(cli.stderr, /--model-repository is required/);
    assert.doesNotMatch(cli.stdout, /listening/);
  });

  test('bad flags and unknown commands exit non-zero with a message', async () => {
    const bad = new Cli(['serve', '--model-repository', MODELS, '--http-port', 'eighty']);
    assert.deepEqual(await bad.exit(10_000), { code: 2, signal: null });
    assert.match(bad.stderr, /--http-port must be from 0 to 65535, got 'eighty'/);

    const unknown = new Cli(['frobnicate']);
    assert.deepEqual(await unknown.exit(10_000), { code: 2, signal: null });
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);

    const flag = new Cli(['serve', '--model-repository', MODELS, '--no-such-flag']);
    const e = await flag.exit(10_000);
    assert.notEqual(e.code, 0);
    assert.match(flag.stderr, /no-such-flag/);
  });

  test('model control and gRPC flags: bad values and combinations exit 2, naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--model-control-mode', 'sometimes'], /--model-control-mode must be one of none, explicit, poll, got 'sometimes'/],
      [['--load-model', 'my_model'], /--load-model needs --model-control-mode explicit/],
      [['--model-control-mode', 'explicit', '--load-model', '*', '--load-model', 'my_model'], /'\*' .* must be the only --load-model/],
      [['--model-control-mode', 'poll', '--repository-poll-secs', '0'], /--repository-poll-secs must be a positive number, got '0'/],
      [['--max-instances-per-model', '0'], /--max-instances-per-model must be at least 1/],
      [['--grpc-infer-response-compression-level', 'max'], /--grpc-infer-response-compression-level must be one of none, low, medium, high, got 'max'/],
      [['--grpc-max-concurrent-streams', '0'], /--grpc-max-concurrent-streams must be from 1 to 4294967295, got '0'/],
    ];
    for (const [args, re] of cases) {
      const cli = new Cli(['serve', '--model-repository', MODELS, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', ...args]);
      assert.deepEqual(await cli.exit(10_000), { code: 2, signal: null }, args.join(' '));
      assert.match(cli.stderr, re);
    }
  });

  test('--model-control-mode explicit --load-model: only that model loads; load requests work', async () => {
    const dir = await repoWith(['my_model', 'simple']);
    const cli = new Cli(['serve', '--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1',
      '--model-control-mode', 'explicit', '--load-model', 'my_model']);
    const port = await cli.port();
    assert.match(cli.stdout, /model control mode explicit, loading my_model/);
    assert.match(cli.stdout, /^\s+my_model\s+1\s+READY\s*$/m);
    assert.match(cli.stdout, /^\s+simple\s+-\s+UNAVAILABLE\s+not loaded\s*$/m);
    assert.equal((await request(port, 'POST', '/v2/repository/models/simple/load')).status, 200);
    assert.equal((await request(port, 'GET', '/v2/models/simple/ready')).status, 200);
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null });
  });

  test('the startup log says what protection is on: model control, key, browsers, TLS, and the limits with their flags', async () => {
    const dir = await repoWith(['my_model']);
    const cli = new Cli(['serve', '--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1',
      '--max-inflight-bytes', String(300 * 2 ** 20), '--request-timeout', '7', '--stream-idle-timeout', '0', '--max-instances-per-model', '3',
      '--grpc-infer-response-compression-level', 'high', '--grpc-max-concurrent-streams', '50']);
    await cli.port();
    await cli.waitFor(/gRPC .* listening on .*, inference responses compressed \(high\), 50 streams per connection/, 5000);
    for (let i = 0; i < 100 && !/limits:/.test(cli.stdout); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(cli.stdout, /model control mode none/);
    assert.match(cli.stdout, /API key: off/);
    assert.match(cli.stdout, /browsers: cross-origin requests refused/);
    assert.match(cli.stdout, /TLS: off/);
    assert.match(cli.stdout, /limits: 300 MiB in flight \(--max-inflight-bytes\), REST bodies up to 64 MiB, gRPC messages up to 2048 MiB, stalled uploads dropped after 7 s, idle stream readers kept, at most 3 instances per model/);
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null });
  });

  test('--model-repository repeated (or DUET_MODEL_REPOSITORY as a path list) serves every repository; a model in two is UNAVAILABLE, naming both', async () => {
    const one = await repoWith(['my_model']);
    const two = await repoWith(['simple']);
    for (const [args, env] of [[['--model-repository', one, '--model-repository', two], undefined], [[], { ...process.env, DUET_MODEL_REPOSITORY: `${one}${delimiter}${two}` }]] as const) {
      const cli = new Cli(['serve', ...args, '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1'], env);
      const port = await cli.port();
      assert.match(cli.stdout, /^\s+my_model\s+1\s+READY\s*$/m);
      assert.match(cli.stdout, /^\s+simple\s+1\s+READY\s*$/m);
      assert.match(cli.stdout, new RegExp(`loading models from ${escape(one)}, ${escape(two)}`));
      assert.equal((await request(port, 'GET', '/v2/models/simple/ready')).status, 200);
      cli.child.kill('SIGTERM');
      assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null });
    }
    const three = await repoWith(['simple']);
    const dup = new Cli(['serve', '--model-repository', two, '--model-repository', three, '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1']);
    await dup.port();
    assert.match(dup.stdout, /^\s+simple\s+-\s+UNAVAILABLE\s+.*more than one model repository/m);
    assert.ok(dup.stdout.includes(join(two, 'simple')) && dup.stdout.includes(join(three, 'simple')), dup.output);
    dup.child.kill('SIGTERM');
    await dup.exit(20_000);
  });

  test('a model repository that does not exist is an error, not an empty server', async () => {
    const cli = new Cli(['serve', '--model-repository', join(MODELS, 'no', 'such', 'repo'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1']);
    const e = await cli.exit(20_000);
    assert.equal(e.code, 1);
    assert.match(cli.stdout, /Z error: cannot start: .*(no[/\\]such[/\\]repo|ENOENT)/);
    assert.doesNotMatch(cli.stdout, /listening/);
  });

  test('access flags: --api-key-file guards REST and metrics, the log says so without the key; bad values exit 2', async () => {
    const dir = await repoWith([]);
    const keyDir = await mkdtemp(join(tmpdir(), 'duet-key-'));
    cleanups.push(() => rm(keyDir, { recursive: true, force: true }));
    const key = randomBytes(16).toString('hex');
    await writeFile(join(keyDir, 'key'), `${key}\n`);
    const cli = new Cli(['serve', '--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1',
      '--api-key-file', join(keyDir, 'key'), '--http-restricted-api', 'model-repository:admin-key=hidden']);
    const port = await cli.port();
    const metrics = Number((await cli.waitFor(/metrics at http:\/\/127\.0\.0\.1:(\d+)/, 5000))[1]);
    await cli.waitFor(/API key: required on REST, gRPC and metrics/, 5000);
    assert.match(cli.stdout, /restricted REST APIs: model-repository need 'admin-key'/);
    assert.equal((await request(port, 'GET', '/v2')).status, 401);
    assert.equal((await request(port, 'GET', '/v2/health/live')).status, 200);
    assert.equal((await request(metrics, 'GET', '/metrics')).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${port}/v2`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null });
    assert.ok(!cli.stdout.includes(key) && !cli.stdout.includes('hidden'), 'a secret reached the log');

    for (const [flags, re] of [
      [['--http-restricted-api', 'bogus:k=v'], /unknown restricted API 'bogus'/],
      [['--grpc-restricted-protocol', 'inference'], /--grpc-restricted-protocol format is '<categories>:<header>=<value>'/],
      [['--cors-allow-origin', 'app.example'], /--cors-allow-origin: 'app.example' is not an origin/],
      [['--api-key', 'a', '--api-key-file', join(keyDir, 'key')], /not both/],
    ] as [string[], RegExp][]) {
      const bad = new Cli(['serve', '--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', ...flags]);
      assert.deepEqual(await bad.exit(10_000), { code: 2, signal: null }, flags.join(' '));
      assert.match(bad.stderr, re);
    }
  });

  test('the startup log lists each model with its state; strict readiness follows the flag', async () => {
    const dir = await repoWith(['my_model']);
    await addBroken(dir, 'broken');
    for (const strict of [undefined, 'false']) {
      const cli = new Cli(['serve', '--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1', ...(strict ? ['--strict-readiness', strict] : [])]);
      const port = await cli.port();
      assert.match(cli.stdout, new RegExp(`loading models from ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(cli.stdout, /^\s+my_model\s+1\s+READY\s*$/m);
      assert.match(cli.stdout, /^\s+broken\s+\S+\s+UNAVAILABLE\s+.*INPUT0.*127/m);
      // The server serves the good model and reports the broken one.
      const inp = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: Array(128).fill(1) }] };
      const r = await request(port, 'POST', '/v2/models/my_model/infer', inp);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual((JSON.parse(r.body) as { outputs: { data: number[] }[] }).outputs[0].data, [128]);
      assert.equal((await request(port, 'GET', '/v2/models/broken/ready')).status, 400);
      assert.equal((await request(port, 'GET', '/v2/health/live')).status, 200);
      assert.equal((await request(port, 'GET', '/v2/health/ready')).status, strict === 'false' ? 200 : 400, `--strict-readiness ${strict ?? '(default)'}`);
      cli.child.kill('SIGTERM');
      assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null });
    }
  });

  for (const keepAlive of [false, true]) {
    test(`SIGTERM with a request in flight${keepAlive ? ' (keep-alive client)' : ''}: it completes, new connections are refused, exit 0`, async () => {
      const dir = await repoWith([]);
      await put(join(dir, 'slow', 'config.pbtxt'), SLOW_CONFIG);
      await put(join(dir, 'slow', '1', 'model.ts'), SLOW_MODEL_TS);
      const cli = new Cli(['serve', '--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1']);
      const port = await cli.port();
      assert.match(cli.stdout, /^\s+slow\s+1\s+READY\s*$/m);

      const agent = keepAlive ? new http.Agent({ keepAlive: true }) : false;
      try {
        const delay = 2500;
        let answeredAt = 0;
        const slow = request(port, 'POST', '/v2/models/slow/infer', { inputs: [{ name: 'DELAY_MS', datatype: 'INT32', shape: [1], data: [delay] }] }, agent)
          .finally(() => (answeredAt = Date.now()));
        slow.catch(() => {}); // awaited below; keeps an early failure from going unhandled

        // The model has the request once it writes its marker file.
        const marker = join(dir, 'slow', 'started');
        for (let t = Date.now(); !(await exists(marker)); await sleep(10)) {
          if (Date.now() - t > 10_000) assert.fail(`the slow request never reached the model\nstdout:\n${cli.stdout}\nstderr:\n${cli.stderr}`);
        }
        cli.child.kill('SIGTERM');

        // New connections are refused while the slow request is still running.
        let refusedAt = 0;
        for (let t = Date.now(); Date.now() - t < delay / 2; await sleep(25)) {
          try {
            await request(port, 'GET', '/v2/health/live');
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            // A connection caught in the listen backlog as the listener closes is reset; try again.
            if (code === 'ECONNRESET') continue;
            assert.equal(code, 'ECONNREFUSED', (e as Error).message);
            refusedAt = Date.now();
            break;
          }
        }
        assert.ok(refusedAt > 0, 'new connections were still accepted after SIGTERM');
        assert.equal(answeredAt, 0, 'connections were refused before the in-flight request was answered');

        const r = await slow;
        assert.equal(r.status, 200, r.body);
        const body = JSON.parse(r.body) as { model_name: string; outputs: { name: string; data: string[] }[] };
        assert.equal(body.model_name, 'slow');
        assert.deepEqual(body.outputs.map((o) => [o.name, o.data]), [['DONE', ['done']]]);

        const e = await cli.exit(20_000);
        assert.deepEqual(e, { code: 0, signal: null }, `stderr:\n${cli.stderr}`);
        assert.match(cli.stdout, /SIGTERM: finishing requests in flight/);
        const lingered = Date.now() - answeredAt;
        assert.ok(lingered < 3000, `the process exited ${lingered} ms after the last response (an idle keep-alive connection held it open?)`);
      } finally {
        if (agent) agent.destroy();
      }
    });
  }
});
