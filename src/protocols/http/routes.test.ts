import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kserveRoutes, unservedOperation } from './routes.js';
import { modelOf, routeFor, RouteTable } from './route-table.js';

const table = new RouteTable().add(...kserveRoutes());
/** The access-check name a request gets (as exchange.ts computes it). */
const operationOf = (method: string, path: string) => {
  const hit = table.match(path);
  return hit ? routeFor(hit, method)?.operation : unservedOperation(path);
};

test('REST routes name the gRPC method they match, for access checks', () => {
  const cases: [string, string, string | undefined][] = [
    ['GET', '/v2/health/live', 'ServerLive'],
    ['HEAD', '/v2/health/ready/', 'ServerReady'],
    // Only GET/HEAD get the health exemption.
    ['POST', '/v2/health/live', undefined],
    ['GET', '/v2', 'ServerMetadata'],
    ['GET', '/v2/', 'ServerMetadata'],
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

test('the route table matches fixed segments first, params otherwise, and nothing else', () => {
  const id = (method: string, path: string) => routeFor(table.match(path), method)?.id;
  assert.equal(id('GET', '/v2/models/stats'), 'allModelStatistics');
  // A model named 'stats' still has its own routes.
  assert.equal(id('GET', '/v2/models/stats/ready'), 'modelReady');
  assert.equal(id('GET', '/v2/models/stats/versions/3/stats'), 'modelVersionStatistics');
  assert.deepEqual(table.match('/v2/models/a%20b/versions/7/infer/')?.params, ['a%20b', '7']);
  assert.equal(modelOf(table.match('/v2/models/a%20b/infer')), 'a b');
  assert.equal(modelOf(table.match('/v2/models/stats')), undefined);
  assert.equal(modelOf(table.match('/v2/repository/models/x/load')), 'x');
  for (const p of ['', '/', '//', '/v2//', '/v2/models/', '/v2/models//ready', '/v2/models/m/ready/x', '/v2/health', '/V2', 'v2', '/v2/models/m/infer//']) {
    assert.equal(table.match(p), undefined, p);
  }
  assert.equal(id('DELETE', '/v2/models/m'), undefined);
  assert.equal(id('HEAD', '/v2/models/m/config'), 'modelConfig');
  assert.equal(id('HEAD', '/v2/models/m/infer'), undefined);
  assert.throws(() => new RouteTable().add(...kserveRoutes(), kserveRoutes()[0]), /duplicate route id/);
});
