// What a backend implements inside its worker thread.

import type { ExecuteRequest, ExecuteResult, LoadResult, LoadSpec, StreamItem } from './backend.js';

export interface Runner {
  load(spec: LoadSpec): Promise<LoadResult>;
  execute(requests: ExecuteRequest[]): Promise<ExecuteResult[]>;
  /** Decoupled models only. */
  stream?(request: ExecuteRequest, signal: AbortSignal): AsyncIterable<StreamItem>;
  close(): Promise<void>;
}
