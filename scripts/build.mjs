// npm run build: the client package first (its protobuf stubs, then tsc into packages/client/dist), then the
// server's stubs from proto/ (generated, never hand-edited) and tsc over the server, its tests and the client sources.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' });

/** protobufjs static code for `protos` into `dir`/proto.js + proto.d.ts, under its own root name. */
function stubs(dir, root, protos) {
  mkdirSync(dir, { recursive: true });
  run(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '-r', root, '--keep-case', '--no-verify', '--no-delimited', '-p', 'proto', '-o', `${dir}/proto.js`, ...protos]);
  run(bin('pbts'), ['--no-comments', '-o', `${dir}/proto.d.ts`, `${dir}/proto.js`]);
}

const client = 'packages/client';
rmSync('dist', { recursive: true, force: true });
rmSync(`${client}/dist`, { recursive: true, force: true });
stubs(`${client}/src/generated`, 'duet_client', ['proto/grpc_service.proto', 'proto/model_config.proto']);
run(bin('tsc'), ['-p', `${client}/tsconfig.json`]);
mkdirSync(`${client}/dist/generated`, { recursive: true });
for (const f of ['proto.js', 'proto.d.ts']) copyFileSync(`${client}/src/generated/${f}`, `${client}/dist/generated/${f}`);

stubs('src/generated', 'default', ['proto/grpc_service.proto', 'proto/model_config.proto', 'proto/predictor.proto', 'proto/health.proto',
  'proto/generator.proto', 'proto/reflection.proto', 'proto/reflection_v1alpha.proto']);
// The model config schema as a reflection descriptor: config files are read and printed by walking it.
run(bin('pbjs'), ['-t', 'json', '--keep-case', '-o', 'src/generated/model_config.json', 'proto/model_config.proto']);
run(bin('tsc'), ['-p', 'tsconfig.json']);
// Declarations for the model authoring API only (duet-server/backend), what model code type-checks against.
run(bin('tsc'), ['-p', 'tsconfig.backend.json']);
for (const dir of ['src/generated', `${client}/src/generated`]) {
  mkdirSync(`dist/${dir}`, { recursive: true });
  copyFileSync(`${dir}/proto.js`, `dist/${dir}/proto.js`);
}
copyFileSync('src/generated/model_config.json', 'dist/src/generated/model_config.json');
// The web console, served at / on the REST port.
await import('./build-console.mjs');
