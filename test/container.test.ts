// The Dockerfile without a Docker engine (issue 13 item 1): its recipe checked statically (bases, user,
// ports, entrypoint, health check, the DUET_* variables against the flag table and `duet serve --help`),
// then the image's exact entrypoint run here with the image's environment, a copy of models/ standing in
// for /mnt/models and free loopback ports, swapped in through the same variables.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HttpClient } from '../packages/client/src/node.js';
import { envName } from '../src/cli/flags.js';
import { SERVE_FLAGS } from '../src/cli/serve-flags.js';
import { SERVE_NODE_FLAGS } from '../src/core/node-flags.js';
import { Cli, killAll } from './cli-process.js';
import { projectDockerfile } from './deploy/dockerfile.js';
import { freePort } from './deploy/haproxy.js';
import { MODELS, ROOT } from './harness.js';

const { stages: dockerfile, runtime, env: imageEnv } = projectDockerfile();
const one = (op: string) => {
  const found = runtime.body.filter((i) => i.op === op);
  assert.equal(found.length, 1, `the runtime stage should have one ${op}`);
  return found[0].args;
};
const entrypoint = JSON.parse(one('ENTRYPOINT')) as string[];

const run = (argv: string[], env: NodeJS.ProcessEnv) => new Promise<{ code: number | null; out: string }>((res) => {
  const c = spawn(argv[0] === 'node' ? process.execPath : argv[0], argv.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  c.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  c.on('close', (code) => res({ code, out }));
});

describe('Dockerfile', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    killAll();
    for (const f of cleanups) await f();
  });

  test('a build stage with every dependency, a runtime stage with production ones, both on a Node LTS slim base; runs as uid 1000', async () => {
    assert.ok(dockerfile.length >= 2, 'multi-stage: a build stage and a runtime stage');
    const engines = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).engines.node as string;
    for (const s of dockerfile) {
      const m = s.from.match(/^node:(\d+)-[a-z]+-slim$/);
      assert.ok(m, `base ${s.from} is not node:<major>-<debian>-slim`);
      const major = Number(m[1]);
      assert.ok(major % 2 === 0 && major >= Number(engines.match(/\d+/)![0]), `node ${major} is not an LTS line that package.json's engines (${engines}) allows`);
    }
    const build = dockerfile[0].body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    assert.match(build, /npm ci\b(?!.*--omit)/, 'the build stage installs every dependency');
    assert.match(build, /npm run build/);
    assert.match(runtime.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n'), /npm ci --omit=dev/);
    assert.match(one('USER'), /^1000(:1000)?$/);
  });

  test('exposes the ports its DUET_* variables set; every variable and flag is one duet serve has', async () => {
    assert.deepEqual(one('EXPOSE').split(/\s+/).map(Number), [8080, 8081, 8082]);
    assert.deepEqual([imageEnv.DUET_HTTP_PORT, imageEnv.DUET_GRPC_PORT, imageEnv.DUET_METRICS_PORT], ['8080', '8081', '8082']);
    assert.equal(imageEnv.DUET_MODEL_REPOSITORY, '/mnt/models');
    const help = await run(['node', entrypoint[1], 'serve', '--help'], {});
    assert.equal(help.code, 0, help.out);
    const known = new Map(Object.keys(SERVE_FLAGS).map((f) => [envName(f), f]));
    for (const name of Object.keys(imageEnv).filter((k) => k.startsWith('DUET_'))) {
      const flag = known.get(name);
      assert.ok(flag, `${name} is no flag's variable`);
      assert.ok(help.out.includes(`--${flag}`) && help.out.includes(name), `duet serve --help does not name --${flag} / ${name}`);
    }
    for (const arg of entrypoint.slice(3).filter((a) => a.startsWith('--'))) assert.ok(help.out.includes(arg.split('=')[0]), `${arg} is not in --help`);
  });

  test('SIGTERM reaches Node: an exec-form entrypoint straight into the CLI; the health check needs no curl', () => {
    assert.equal(entrypoint[0], 'node', 'no npm or shell between the container and Node');
    assert.equal(resolve(ROOT, entrypoint[1]), join(ROOT, 'dist', 'src', 'cli', 'main.js'));
    assert.equal(entrypoint[2], 'serve');
    const hc = one('HEALTHCHECK');
    assert.match(hc, /CMD \["node", "-e",/);
    assert.match(hc, /\/v2\/health\/ready/);
  });

  test("Node's own flags for duet serve are the ones npm start and duet bench use (NODE_OPTIONS in the image)", async () => {
    const options = (imageEnv.NODE_OPTIONS ?? '').split(/\s+/);
    const start = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
    assert.ok(SERVE_NODE_FLAGS.length > 0);
    for (const flag of SERVE_NODE_FLAGS) {
      assert.ok(options.includes(flag), `the image's NODE_OPTIONS lack ${flag}`);
      assert.match(start, new RegExp(`node ${flag} dist/src/cli/main\\.js serve`), `npm start lacks ${flag}`);
    }
  });

  test('the entrypoint, run as the image runs it, serves a copy of models/: ready, then an inference', async () => {
    const repo = await mkdtemp(join(tmpdir(), 'duet-mnt-models-'));
    cleanups.push(() => rm(repo, { recursive: true, force: true }));
    await cp(MODELS, repo, { recursive: true });
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DUET_')));
    // The image's variables, with the repository, host and ports swapped through the same variables
    // (and /app, the image's WORKDIR, is this checkout).
    Object.assign(env, imageEnv, {
      DUET_MODEL_REPOSITORY: repo,
      DUET_HOST: '127.0.0.1',
      DUET_HTTP_PORT: String(await freePort()),
      DUET_GRPC_PORT: String(await freePort()),
      DUET_METRICS_PORT: String(await freePort()),
    });
    const cli = new Cli(entrypoint.slice(2), env);
    const healthcheck = JSON.parse(one('HEALTHCHECK').replace(/^.*?CMD\s+/, '')) as string[];
    const deadline = Date.now() + 60_000;
    for (let r = await run(healthcheck, env); r.code !== 0; r = await run(healthcheck, env)) {
      if (cli.child.exitCode !== null || Date.now() > deadline) assert.fail(`never healthy (last check: ${r.code})\n${cli.output}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const c = new HttpClient(`http://127.0.0.1:${env.DUET_HTTP_PORT}`);
    try {
      const a = Array.from({ length: 16 }, (_, i) => i);
      const r = await c.infer('simple', [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: a.map(() => 1) },
      ]);
      assert.deepEqual(Array.from(r.output('OUTPUT0').typed() as Int32Array), a.map((x) => x + 1));
    } finally {
      await c.close();
    }
    const metrics = await fetch(`http://127.0.0.1:${env.DUET_METRICS_PORT}/metrics`);
    assert.equal(metrics.status, 200);
    await metrics.body?.cancel();
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(15_000), { code: 0, signal: null }, cli.output);
  });
});
