// An in-process server over a scratch repository holding the models the fuzz cases target.

import { startServer } from '../../src/server.js';
import { scratchRepo } from '../harness.js';
import type { FuzzTarget } from './run.js';

export const FUZZ_MODELS = [
  'my_model', 'simple', 'simple_string', 'identity_int64', 'identity_uint64', 'identity_fp16', 'identity_bool',
  'identity_int8', 'identity_bytes', 'text_echo',
];

export async function startFuzzServer(): Promise<{ target: FuzzTarget; stop(): Promise<void> }> {
  const repo = await scratchRepo(FUZZ_MODELS);
  const s = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: 0, metricsPort: null });
  return {
    target: { http: `127.0.0.1:${s.http.port}`, grpc: `127.0.0.1:${s.grpc!.port}` },
    async stop() {
      await s.stop();
      await repo.cleanup();
    },
  };
}
