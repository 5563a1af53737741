/**
 * The page's handle on the restore worker (RS-6): when the worker cannot
 * start its decryption workers it says so instead of "ready", and the
 * restore fails with that message rather than waiting for ever.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import { prepareWorkerJob } from './restore-job';
import type { RestoreJobReply } from './restore-protocol';

class FakeRestoreWorker {
  static last: FakeRestoreWorker | undefined;
  onmessage: ((event: MessageEvent<RestoreJobReply>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  terminated = false;

  constructor() {
    FakeRestoreWorker.last = this;
  }

  postMessage(): void {}

  terminate(): void {
    this.terminated = true;
  }

  reply(data: RestoreJobReply): void {
    this.onmessage?.({ data } as MessageEvent<RestoreJobReply>);
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('prepareWorkerJob', () => {
  it('fails the job when the restore worker cannot start its decryption workers', async () => {
    vi.stubGlobal('Worker', FakeRestoreWorker);
    const prepared = prepareWorkerJob();
    const worker = FakeRestoreWorker.last!;
    worker.reply({
      type: 'failed',
      error: {
        name: 'WorkerError',
        message: 'A decryption worker stopped: it could not be started or crashed.',
      },
    });
    await expect(prepared.ready).rejects.toMatchObject({
      name: 'WorkerError',
      message: 'A decryption worker stopped: it could not be started or crashed.',
    });
    expect(worker.terminated).toBe(true);
  });

  it('is ready once the worker and its decryption workers are loaded', async () => {
    vi.stubGlobal('Worker', FakeRestoreWorker);
    const prepared = prepareWorkerJob();
    FakeRestoreWorker.last!.reply({ type: 'ready' });
    await expect(prepared.ready).resolves.toBeUndefined();
    prepared.dispose();
    expect(FakeRestoreWorker.last!.terminated).toBe(true);
  });
});
