// Wires the pieces of one server process together: repository, data plane, front-ends.

import type { AddressInfo } from 'node:net';
import { DataPlane } from './dataplane.js';
import { ModelManager } from './model-manager.js';
import { HttpServer } from './protocols/http/server.js';

export interface ServerOptions {
  modelRepository: string;
  host?: string;
  httpPort?: number;
  maxBodyBytes?: number;
  strictReadiness?: boolean;
  log?: (line: string) => void;
}

export interface RunningServer {
  dataPlane: DataPlane;
  models: ModelManager;
  http: AddressInfo;
  /** Stop accepting, finish requests in flight, unload every model. */
  stop(): Promise<void>;
}

/** Extensions of Triton's protocol this server speaks (reported in server metadata). */
export const EXTENSIONS = ['classification', 'model_repository', 'model_configuration', 'binary_tensor_data'];

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  const models = new ModelManager(opts.modelRepository, { log });
  const dataPlane = new DataPlane(models, { extensions: EXTENSIONS, strictReadiness: opts.strictReadiness });
  await models.loadAll();
  const http = new HttpServer(dataPlane, { host: opts.host, port: opts.httpPort, maxBodyBytes: opts.maxBodyBytes });
  const httpAddr = await http.listen();
  let stopping: Promise<void> | undefined;
  return {
    dataPlane,
    models,
    http: httpAddr,
    stop() {
      stopping ??= (async () => {
        dataPlane.beginShutdown();
        await http.close();
        await models.close();
      })();
      return stopping;
    },
  };
}
