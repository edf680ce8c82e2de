// Shared with the client package, which owns it (the client imports nothing from the server).
export * from '../../packages/client/src/datatypes.js';
