// Wires the pieces of one server process together: repository, data plane, front-ends.

import type { AddressInfo } from 'node:net';
import { DataPlane } from './dataplane.js';
import { ModelManager } from './model-manager.js';
import { HttpServer } from './protocols/http/server.js';
import { GrpcServer } from './protocols/grpc/server.js';
import { fileURLToPath } from 'node:url';

export interface ServerOptions {
  modelRepository: string;
  host?: string;
  httpPort?: number;
  maxBodyBytes?: number;
  /** gRPC port; 0 picks a free one; null turns gRPC off. */
  grpcPort?: number | null;
  grpcMaxMessageBytes?: number;
  grpcWindowBytes?: number;
  predictorModel?: string;
  strictReadiness?: boolean;
  log?: (line: string) => void;
}

export interface RunningServer {
  dataPlane: DataPlane;
  models: ModelManager;
  http: AddressInfo;
  grpc?: { address: string; port: number };
  /** Stop accepting, finish requests in flight, unload every model. */
  stop(): Promise<void>;
}

/** Extensions of Triton's protocol this server speaks (reported in server metadata). */
export const EXTENSIONS = ['classification', 'model_repository', 'model_configuration', 'binary_tensor_data', 'statistics', 'generate'];

const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  const models = new ModelManager(opts.modelRepository, { log });
  const dataPlane = new DataPlane(models, { extensions: EXTENSIONS, strictReadiness: opts.strictReadiness });
  await models.loadAll();
  const http = new HttpServer(dataPlane, { host: opts.host, port: opts.httpPort, maxBodyBytes: opts.maxBodyBytes });
  const httpAddr = await http.listen();
  let grpc: GrpcServer | undefined;
  let grpcAddr: { address: string; port: number } | undefined;
  if (opts.grpcPort !== null) {
    grpc = new GrpcServer(dataPlane, {
      host: opts.host, port: opts.grpcPort ?? 8001, maxMessageBytes: opts.grpcMaxMessageBytes,
      windowBytes: opts.grpcWindowBytes, predictorModel: opts.predictorModel, protoDir: PROTO_DIR,
    });
    try {
      grpcAddr = await grpc.listen();
    } catch (e) {
      await http.close();
      await models.close();
      throw e;
    }
  }
  let stopping: Promise<void> | undefined;
  return {
    dataPlane,
    models,
    http: httpAddr,
    grpc: grpcAddr,
    stop() {
      stopping ??= (async () => {
        dataPlane.beginShutdown();
        await Promise.all([http.close(), grpc?.close()]);
        await models.close();
      })();
      return stopping;
    },
  };
}
