// A minimal server-reflection client for tests, on grpc-js with the static codecs of proto/reflection.proto
// (v1alpha has the same messages): ask questions on one stream, or list the services a server offers.

import * as grpc from '@grpc/grpc-js';
import { InferenceError } from '../src/core/errors.js';
import { errorOf } from '../src/bench/grpc-js-client.js';
import { grpc as g } from '../src/generated/proto.js';
import { REFLECTION_V1_SERVICE, REFLECTION_V1ALPHA_SERVICE } from '../src/protocols/grpc/reflection/service.js';

type Response = g.reflection.v1.ServerReflectionResponse;

/**
 * Send each request on one ServerReflectionInfo stream and collect the answers; a refused call rejects
 * with an InferenceError carrying its code.
 */
export async function reflect(address: string, version: 'v1' | 'v1alpha', requests: object[], metadata: Record<string, string> = {}): Promise<Response[]> {
  const def = (version === 'v1' ? REFLECTION_V1_SERVICE : REFLECTION_V1ALPHA_SERVICE).ServerReflectionInfo;
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  try {
    const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize as (b: Buffer) => Response, md);
    const out: Response[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: Response) => out.push(m));
      call.on('error', (e: grpc.ServiceError) => reject(e.code === undefined ? e : errorOf(e)));
      call.on('end', resolve);
    });
    for (const r of requests) call.write(g.reflection.v1.ServerReflectionRequest.fromObject(r));
    call.end();
    await done;
    return out;
  } catch (e) {
    throw e instanceof InferenceError ? e : new InferenceError('INTERNAL', String(e));
  } finally {
    client.close();
  }
}

/** The names reflection lists. */
export async function listServices(address: string, version: 'v1' | 'v1alpha', metadata: Record<string, string> = {}): Promise<string[]> {
  const [r] = await reflect(address, version, [{ list_services: '' }], metadata);
  return (r?.list_services_response?.service ?? []).map((s) => s.name ?? '');
}
