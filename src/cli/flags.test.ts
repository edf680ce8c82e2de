import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bool, envName, FlagError, parseArgsOptions, resolve, type ConfigFile } from './flags.js';
import { readConfigFile } from './config-file.js';
import { SERVE_FLAGS, serveHelp } from './serve-flags.js';

const argv = (args: string[]) => parseArgs({ args, options: parseArgsOptions(SERVE_FLAGS), strict: true }).values;
const serve = (args: string[], env: NodeJS.ProcessEnv = {}, file?: ConfigFile) => resolve(SERVE_FLAGS, argv(args), env, file);
const fails = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof FlagError && re.test(e.message));

test('defaults come from the table when nothing is given', () => {
  const { values: v, sources } = serve([]);
  assert.equal(v['http-port'], 8000);
  assert.equal(v['grpc-port'], 8001);
  assert.equal(v['metrics-port'], 8002);
  assert.equal(v['host'], '0.0.0.0');
  assert.equal(v['log-level'], 'info');
  assert.equal(v['log-format'], 'text');
  assert.equal(v['access-log'], false);
  assert.equal(v['strict-readiness'], true);
  assert.deepEqual(v['model-repository'], []);
  assert.equal(v['grpc-max-concurrent-streams'], undefined);
  assert.equal(v['shutdown-grace-secs'], 30_000);
  assert.deepEqual(sources, {});
});

test('precedence: command line over DUET_* over the config file over the default', () => {
  const file = { path: 'duet.yaml', data: { 'http-port': 1111, 'grpc-port': 2222, 'metrics-port': 3333 } };
  const env = { DUET_HTTP_PORT: '4444', DUET_GRPC_PORT: '5555' };
  const { values: v, sources } = serve(['--http-port', '6666'], env, file);
  assert.deepEqual([v['http-port'], v['grpc-port'], v['metrics-port'], v['host']], [6666, 5555, 3333, '0.0.0.0']);
  assert.deepEqual(sources, { 'http-port': 'the command line', 'grpc-port': 'environment variable DUET_GRPC_PORT', 'metrics-port': 'config file duet.yaml' });
});

test('repeatable flags: every --flag, a separated DUET_* list, or a file list; the first source that has it wins whole', () => {
  assert.deepEqual(serve(['--model-repository', 'a', '--model-repository', 'b']).values['model-repository'], ['a', 'b']);
  assert.deepEqual(serve([], { DUET_MODEL_REPOSITORY: '/r/one:/r/two' }).values['model-repository'], ['/r/one', '/r/two']);
  assert.deepEqual(serve([], { DUET_LOAD_MODEL: 'x, y' }).values['load-model'], ['x', 'y']);
  assert.deepEqual(serve([], { DUET_HTTP_RESTRICTED_API: 'inference,statistics:a=1;model-repository:b=2' }).values['http-restricted-api'],
    ['inference,statistics:a=1', 'model-repository:b=2']);
  const file = { path: 'f.json', data: { 'load-model': ['p', 'q'], 'cors-allow-origin': 'https://one.example' } };
  assert.deepEqual(serve([], {}, file).values['load-model'], ['p', 'q']);
  assert.deepEqual(serve([], {}, file).values['cors-allow-origin'], ['https://one.example']);
  assert.deepEqual(serve(['--load-model', 'z'], { DUET_LOAD_MODEL: 'x' }, file).values['load-model'], ['z']);
});

test('switches and booleans from each source', () => {
  assert.equal(serve(['--access-log']).values['access-log'], true);
  assert.equal(serve([], { DUET_ACCESS_LOG: '1' }).values['access-log'], true);
  assert.equal(serve([], {}, { path: 'f.yaml', data: { 'access-log': true, 'strict-readiness': false } }).values['access-log'], true);
  assert.equal(serve([], {}, { path: 'f.yaml', data: { 'strict-readiness': false } }).values['strict-readiness'], false);
  assert.equal(serve(['--strict-readiness', 'off']).values['strict-readiness'], false);
  fails(() => serve([], { DUET_ACCESS_LOG: 'sometimes' }), /^--access-log must be true or false, got 'sometimes' \(from environment variable DUET_ACCESS_LOG\)$/);
  assert.throws(() => bool('x', false).parse('2'), /must be true or false/);
});

test('wrong values name the flag and where the value came from', () => {
  fails(() => serve(['--http-port', 'eighty']), /^--http-port must be from 0 to 65535, got 'eighty'$/);
  fails(() => serve([], { DUET_GRPC_WINDOW: '-3' }), /^--grpc-window must be a non-negative integer, got '-3' \(from environment variable DUET_GRPC_WINDOW\)$/);
  fails(() => serve([], {}, { path: 'd.yaml', data: { 'log-level': 'loud' } }), /^--log-level must be one of error, warn, info, verbose, got 'loud' \(from config file d.yaml\)$/);
  fails(() => serve([], {}, { path: 'd.yaml', data: { 'http-port': [1, 2] } }), /^--http-port \(from config file d.yaml\) must be a string, number or boolean, got a list$/);
  fails(() => serve([], {}, { path: 'd.yaml', data: { 'http-port': { a: 1 } } }), /--http-port .* got object/);
  fails(() => serve([], {}, { path: 'd.yaml', data: { 'load-model': [null] } }), /--load-model .* got null/);
  fails(() => serve([], {}, { path: 'd.yaml', data: { 'max-instances-per-model': 0 } }), /--max-instances-per-model must be at least 1, got '0'/);
  fails(() => serve([], {}, { path: 'd.yaml', data: ['http-port'] }), /config file d.yaml: must be a mapping of flag names to values, got a list/);
  fails(() => serve(['--stream-idle-timeout', 'soon']), /--stream-idle-timeout must be a non-negative number of seconds, got 'soon'/);
  assert.equal(serve(['--grpc-port', 'off']).values['grpc-port'], null);
  assert.equal(serve([], { DUET_METRICS_PORT: '-1' }).values['metrics-port'], null);
  assert.equal(serve(['--stream-idle-timeout', '0.25']).values['stream-idle-timeout'], 250);
  fails(() => serve(['--answer-poll-us=-5']), /^--answer-poll-us must be from 0 to 1000000, got '-5'$/);
  fails(() => serve(['--answer-poll-us', '2000000']), /^--answer-poll-us must be from 0 to 1000000, got '2000000'$/);
  fails(() => serve([], { DUET_ANSWER_POLL_US: 'fast' }), /^--answer-poll-us must be from 0 to 1000000, got 'fast' \(from environment variable DUET_ANSWER_POLL_US\)$/);
  assert.equal(serve([], { DUET_ANSWER_POLL_US: '0' }).values['answer-poll-us'], 0);
  assert.equal(serve([]).values['answer-poll-us'], 1000);
});

test('unknown DUET_* variables and unknown file keys are errors naming them', () => {
  fails(() => serve([], { DUET_HTTP_PROT: '1', DUET_HOST: 'x', PATH: '/bin' }), /unknown environment variable DUET_HTTP_PROT \(/);
  fails(() => serve([], { DUET_A: '1', DUET_B: '2' }), /unknown environment variables DUET_A, DUET_B/);
  fails(() => serve([], {}, { path: 'c.yaml', data: { 'http-port': 1, http_port: 2, extra: 3 } }), /^config file c.yaml: unknown keys 'http_port', 'extra'/);
  // DUET_CONFIG names the file, and the test tools' own variables are not flags.
  assert.doesNotThrow(() => resolve(SERVE_FLAGS, {}, { DUET_CONFIG: 'x.yaml', DUET_FUZZ_SEED: '1' }, undefined, ['DUET_CONFIG']));
});

test('a secret value is never echoed in a message', () => {
  const table = { token: { arg: 'T', help: 'h', secret: true, parse: (raw: unknown) => { if (raw !== undefined) throw new Error(`must be hex, got '${raw}'`); } } };
  fails(() => resolve(table, { token: 'sekrit' }, {}), /^--token must be hex$/);
});

test('every flag is in --help with its variable, and in one section only', () => {
  const help = serveHelp();
  for (const name of Object.keys(SERVE_FLAGS)) {
    assert.equal(help.split(`\n  --${name} `).length + help.split(`\n  --${name}\n`).length - 2, 1, `--${name} once in --help`);
    assert.ok(help.includes(envName(name)), `${envName(name)} in --help`);
  }
  assert.match(help, /--http-port N\s+REST port \(0 picks a free port\)\n\s+\(default 8000; DUET_HTTP_PORT\)/);
  assert.match(help, /DUET_MODEL_REPOSITORY, ':'-separated/);
});

test('the README\'s Configuration table has every flag with its variable, and no flag the table lacks', async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  const rows = readme.split('\n').filter((l) => l.startsWith('| `--'));
  const named = rows.map((l) => /^\| `--([a-z-]+)/.exec(l)![1]);
  assert.deepEqual(named, Object.keys(SERVE_FLAGS));
  for (const [i, name] of named.entries()) assert.ok(rows[i].includes(`\`${envName(name)}\``), rows[i]);
});

test('config files: JSON by extension, YAML otherwise; bad syntax and unreadable files are named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'duet-config-'));
  try {
    const json = join(dir, 'duet.json');
    await writeFile(json, JSON.stringify({ 'http-port': 9, 'load-model': ['a'] }));
    assert.deepEqual((await readConfigFile(json)).data, { 'http-port': 9, 'load-model': ['a'] });
    const yaml = join(dir, 'duet.yaml');
    await writeFile(yaml, 'http-port: 9\nlog-format: json\naccess-log: true\nmodel-repository:\n  - /a\n  - /b\ngrpc-port: off\n');
    const file = await readConfigFile(yaml);
    const v = resolve(SERVE_FLAGS, {}, {}, file).values;
    assert.deepEqual([v['http-port'], v['log-format'], v['access-log'], v['model-repository'], v['grpc-port']], [9, 'json', true, ['/a', '/b'], null]);
    await writeFile(json, '{"http-port": ');
    await assert.rejects(readConfigFile(json), /config file .*duet\.json is not valid JSON/);
    await writeFile(yaml, 'a: 1\na: 2\n');
    await assert.rejects(readConfigFile(yaml), /config file .*duet\.yaml is not valid YAML/);
    await assert.rejects(readConfigFile(join(dir, 'none.yaml')), /--config: cannot read '.*none\.yaml'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
