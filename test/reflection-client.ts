// A minimal server-reflection client for tests: list the services a server offers.

import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { InferenceError } from '../src/core/errors.js';
import { errorOf } from '../src/client/grpc.js';
import { ROOT } from './harness.js';

const REFLECTION_PROTO = join(ROOT, 'node_modules/@grpc/reflection/build/proto/grpc/reflection');

interface ListResponse {
  list_services_response?: { service: { name: string }[] };
}

/** The names reflection lists; a refused call rejects with an InferenceError carrying its code. */
export async function listServices(address: string, version: 'v1' | 'v1alpha', metadata: Record<string, string> = {}): Promise<string[]> {
  const def = loadSync(join(REFLECTION_PROTO, version, 'reflection.proto'), { keepCase: true, oneofs: true, defaults: false });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
  };
  const client = new pkg.grpc.reflection[version].ServerReflection(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  try {
    const call = (client as unknown as { ServerReflectionInfo(md: grpc.Metadata): grpc.ClientDuplexStream<object, ListResponse> }).ServerReflectionInfo(md);
    const names: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: ListResponse) => names.push(...(m.list_services_response?.service ?? []).map((s) => s.name)));
      call.on('error', (e: grpc.ServiceError) => reject(e.code === undefined ? e : errorOf(e)));
      call.on('end', resolve);
    });
    call.write({ list_services: '' });
    call.end();
    await done;
    return names;
  } catch (e) {
    throw e instanceof InferenceError ? e : new InferenceError('INTERNAL', String(e));
  } finally {
    client.close();
  }
}
