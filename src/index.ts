// The library surface: start a server in-process, or talk to one.
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export * from '../packages/client/src/node.js';
export type { Model, ModelRequest, ModelResponse, InitializeArgs } from './backends/typescript/api.js';
