// What a backend implements inside its worker thread.

import type { ExecuteRequest, ExecuteResult, LoadResult, LoadSpec } from './backend.js';

export interface Runner {
  load(spec: LoadSpec): Promise<LoadResult>;
  execute(requests: ExecuteRequest[]): Promise<ExecuteResult[]>;
  close(): Promise<void>;
}
