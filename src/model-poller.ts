// Model control mode 'poll': scan the repository every interval; load added model folders, reload
// changed ones and unload removed ones. A change that fails to load leaves the old version serving.

import type { ModelManager } from './model-manager.js';
import { snapshotRepository } from './repository/snapshot.js';
import type { LogFn } from './core/log.js';

export class ModelPoller {
  private seen = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly models: ModelManager,
    private readonly intervalMs: number,
    private readonly log: LogFn,
  ) {}

  /** Loads every model folder, then polls until stop(). */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  /** Stops polling; waits for a poll in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().catch((e) => this.log(`repository poll failed: ${(e as Error).message}`, 'warn'));
      void this.running.then(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const now = await snapshotRepository(this.models.repoDirs);
    const work: Promise<unknown>[] = [];
    for (const [name, print] of now) {
      const before = this.seen.get(name);
      if (before === print) continue;
      if (before !== undefined) this.log(`model '${name}' changed in the repository; reloading`);
      // Failures are logged and shown in the index by the manager.
      work.push(this.models.load(name).catch(() => {}));
    }
    for (const name of this.seen.keys()) {
      if (now.has(name) || !this.models.has(name)) continue;
      this.log(`model '${name}' removed from the repository; unloading`);
      work.push(this.models.unload(name).catch(() => {}));
    }
    // Remember what this poll saw, so a broken change is tried once, not on every poll.
    this.seen = now;
    await Promise.all(work);
  }
}
