import { test } from 'node:test';
import assert from 'node:assert/strict';
import { operationOf } from './routes.js';

test('REST routes name the gRPC method they match, for access checks', () => {
  const cases: [string, string, string | undefined][] = [
    ['GET', '/v2/health/live', 'ServerLive'],
    ['HEAD', '/v2/health/ready/', 'ServerReady'],
    // Only GET/HEAD get the health exemption.
    ['POST', '/v2/health/live', undefined],
    ['GET', '/v2', 'ServerMetadata'],
    ['GET', '/v2/models/stats', 'ModelStatistics'],
    ['GET', '/v2/models/my_model', 'ModelMetadata'],
    ['GET', '/v2/models/my_model/versions/1/ready', 'ModelReady'],
    ['GET', '/v2/models/my_model/config', 'ModelConfig'],
    ['POST', '/v2/models/my_model/infer', 'ModelInfer'],
    ['POST', '/v2/models/my_model/generate_stream', 'Generate'],
    ['GET', '/v2/models/my_model/versions/2/stats', 'ModelStatistics'],
    ['POST', '/v2/repository/index', 'RepositoryIndex'],
    ['POST', '/v2/repository/models/a%2Fb/load', 'RepositoryModelLoad'],
    ['POST', '/v2/repository/models/x/unload/', 'RepositoryModelUnload'],
    ['POST', '/v2/systemsharedmemory/region/r/register', 'SystemSharedMemoryStatus'],
    ['GET', '/v2/cudasharedmemory/status', 'CudaSharedMemoryStatus'],
    ['POST', '/v2/models/m/trace/setting', 'TraceSetting'],
    ['GET', '/v2/logging', 'LogSettings'],
    ['GET', '/nowhere', undefined],
  ];
  for (const [m, p, op] of cases) assert.equal(operationOf(m, p), op, `${m} ${p}`);
});
