// The real CLI's log: --version, JSON lines, the access log over every protocol, and flags from the
// environment and a config file.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningServer } from '../src/server.js';
import { PROTOCOLS, ROOT, scratchRepo } from './harness.js';
import { Cli, killAll } from './cli-process.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  killAll();
  for (const f of cleanups) await f();
});

/** The JSON log lines printed so far; every stdout line must be one. */
function jsonLines(cli: Cli): Record<string, unknown>[] {
  return cli.stdout.split('\n').filter(Boolean).map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON line: ${l}\n${cli.output}`);
    }
  });
}

describe('logging', { timeout: 120_000 }, () => {
  test('duet --version, -v and duet version: the package.json version and Node\'s', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    for (const args of [['--version'], ['-v'], ['version'], ['serve', '--version']]) {
      const cli = new Cli(args);
      assert.deepEqual(await cli.exit(10_000), { code: 0, signal: null }, args.join(' '));
      assert.equal(cli.stdout, `duet ${pkg.version} (${pkg.name}; Node.js ${process.version})\n`);
    }
  });

  test('--log-format json --access-log: every line is JSON; one access line per call on REST, gRPC and gRPC-Web, without tensor data', async () => {
    const repo = await scratchRepo(['identity_bytes']);
    cleanups.push(repo.cleanup);
    const cli = Cli.serve(repo.dir, ['--log-format', 'json', '--access-log']);
    const { http, grpc } = await cli.ports();
    const server = { http: { port: http }, grpc: { port: grpc } } as RunningServer;
    const marker = 'tensor-data-must-not-be-logged';
    for (const proto of PROTOCOLS) {
      const c = proto.client(server);
      try {
        const r = await c.infer('identity_bytes', [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data: [marker] }]);
        assert.equal(r.outputs.length, 1);
      } finally {
        await c.close();
      }
    }
    // A refused call is logged with its status too.
    assert.equal((await fetch(`http://127.0.0.1:${http}/v2/models/no_such_model`)).status, 404);
    const deadline = Date.now() + 10_000;
    let access: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      access = jsonLines(cli).filter((o) => o.msg === 'access');
      if (access.length >= 4) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const lines = jsonLines(cli);
    for (const o of lines) {
      assert.equal(typeof o.time, 'string');
      assert.equal(new Date(o.time as string).toISOString(), o.time);
      assert.ok(['error', 'warn', 'info', 'verbose'].includes(o.level as string), JSON.stringify(o));
    }
    assert.ok(lines.some((o) => /^REST \(KServe v2\) listening on/.test(o.msg as string)));
    assert.ok(!cli.stdout.includes(marker), `tensor data reached the log:\n${cli.stdout}`);
    const infer = (protocol: string) => access.find((o) => o.protocol === protocol && o.model === 'identity_bytes');
    const rest = infer('http');
    assert.ok(rest, `no REST access line:\n${cli.stdout}`);
    assert.equal(rest.method, 'POST /v2/models/identity_bytes/infer');
    assert.equal(rest.status, 200);
    for (const protocol of ['grpc', 'grpc-web']) {
      const o = infer(protocol);
      assert.ok(o, `no ${protocol} access line:\n${cli.stdout}`);
      assert.equal(o.method, '/inference.GRPCInferenceService/ModelInfer');
      assert.equal(o.status, 'OK');
    }
    for (const o of [rest, infer('grpc')!, infer('grpc-web')!]) {
      assert.equal(o.level, 'info');
      assert.ok((o.bytes_in as number) > marker.length && (o.bytes_out as number) > marker.length, JSON.stringify(o));
      assert.ok(typeof o.duration_ms === 'number' && o.duration_ms >= 0);
    }
    const missing = access.find((o) => o.method === 'GET /v2/models/no_such_model');
    assert.equal(missing?.status, 404, cli.stdout);
    assert.equal(missing?.model, 'no_such_model');
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null });
  });

  test('flags from DUET_* and --config; the command line wins; unknown keys and variables exit 2 naming them', async () => {
    const repo = await scratchRepo([]);
    cleanups.push(repo.cleanup);
    const dir = await mkdtemp(join(tmpdir(), 'duet-config-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'duet.json');
    await writeFile(file, JSON.stringify({ 'model-repository': repo.dir, host: '127.0.0.1', 'http-port': 0, 'grpc-port': 'off', 'metrics-port': 'off', 'log-format': 'text' }));
    const run = (args: string[], env: Record<string, string>) => {
      const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DUET_')));
      return new Cli(['serve', '--config', file, ...args], { ...clean, ...env });
    };
    // The file gives the repository and ports, the environment the format (over the file's), the command
    // line the level (over the environment's error, which would hide every startup line).
    const key = 'do-not-log-this-key';
    const cli = run(['--log-level', 'verbose'], { DUET_LOG_FORMAT: 'json', DUET_LOG_LEVEL: 'error', DUET_API_KEY: key });
    const port = (await cli.ports(false)).http;
    assert.equal((await fetch(`http://127.0.0.1:${port}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/v2`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const lines = jsonLines(cli);
    assert.ok(lines.some((o) => o.msg === `config file: ${file}`), cli.output);
    assert.ok(lines.some((o) => o.msg === `loading models from ${repo.dir}`), cli.output);
    assert.ok(!lines.some((o) => /^gRPC .*listening/.test(o.msg as string)), 'gRPC is off in the file');
    // Verbose lines say where each setting came from, and never print a secret.
    const said = (msg: string) => assert.ok(lines.some((o) => o.level === 'verbose' && o.msg === msg), `${msg}\n${cli.output}`);
    said(`--http-port 0 from config file ${file}`);
    said('--log-format "json" from environment variable DUET_LOG_FORMAT');
    said('--log-level "verbose" from the command line');
    said('--api-key (secret) from environment variable DUET_API_KEY');
    assert.ok(!cli.stdout.includes(key), 'the API key reached the log');
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(20_000), { code: 0, signal: null }, cli.output);

    for (const [args, env, re] of [
      [[], { DUET_HTTP_PROT: '1' }, /unknown environment variable DUET_HTTP_PROT/],
      [[], { DUET_HTTP_PORT: 'x' }, /--http-port must be from 0 to 65535, got 'x' \(from environment variable DUET_HTTP_PORT\)/],
      [['--config', join(dir, 'bad.json')], {}, /config file .*bad\.json: unknown key 'http_port'/],
    ] as [string[], Record<string, string>, RegExp][]) {
      if (args.length) await writeFile(join(dir, 'bad.json'), JSON.stringify({ http_port: 1 }));
      const bad = run(args, env);
      assert.deepEqual(await bad.exit(10_000), { code: 2, signal: null }, `${args.join(' ')} ${JSON.stringify(env)}`);
      assert.match(bad.stderr, re);
    }
    // A server that cannot start says why as a log line in the chosen format.
    const missing = run(['--model-repository', join(dir, 'missing'), '--log-format', 'json'], {});
    assert.deepEqual(await missing.exit(20_000), { code: 1, signal: null }, missing.output);
    const last = jsonLines(missing).at(-1)!;
    assert.equal(last.level, 'error');
    assert.match(last.msg as string, /^cannot start: .*missing/);
  });
});
