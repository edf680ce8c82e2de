// npm run build: protobuf stubs from proto/ (generated, never hand-edited), then tsc.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
mkdirSync('src/generated', { recursive: true });
const protos = ['proto/grpc_service.proto', 'proto/model_config.proto', 'proto/predictor.proto', 'proto/health.proto', 'proto/generator.proto',
  'proto/reflection.proto', 'proto/reflection_v1alpha.proto'];
run(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--keep-case', '--no-verify', '--no-delimited', '-p', 'proto', '-o', 'src/generated/proto.js', ...protos]);
run(bin('pbts'), ['--no-comments', '-o', 'src/generated/proto.d.ts', 'src/generated/proto.js']);
// The model config schema as a reflection descriptor: config files are read and printed by walking it.
run(bin('pbjs'), ['-t', 'json', '--keep-case', '-o', 'src/generated/model_config.json', 'proto/model_config.proto']);
run(bin('tsc'), ['-p', 'tsconfig.json']);
mkdirSync('dist/src/generated', { recursive: true });
copyFileSync('src/generated/proto.js', 'dist/src/generated/proto.js');
copyFileSync('src/generated/model_config.json', 'dist/src/generated/model_config.json');
