import { describe, expect, it } from 'vitest';
import { ImageHash, sha256Hex } from '@/core/crypto';
import {
  createChunkHashHandler,
  ImageHashError,
  InProcessChunkHasher,
  WorkerChunkHasher,
  type ChunkHashReply,
  type ChunkHashRequest,
} from './chunk-hasher';

/** A worker in the same thread: messages cloned (transferred buffers detached), answers later. */
class FakeWorker {
  onmessage: ((event: MessageEvent<ChunkHashReply>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  terminated = false;
  readonly handle = createChunkHashHandler();

  postMessage(message: ChunkHashRequest, transfer: Transferable[] = []): void {
    const received = structuredClone(message, { transfer });
    setTimeout(() => {
      void this.handle(received).then((answer) => {
        if (!answer || this.terminated) return;
        const reply = structuredClone(answer.reply, { transfer: answer.transfer });
        setTimeout(() => this.onmessage?.({ data: reply } as MessageEvent<ChunkHashReply>));
      });
    });
  }

  crash(message: string): void {
    this.onerror?.({ message, preventDefault: () => undefined } as ErrorEvent);
  }

  terminate(): void {
    this.terminated = true;
  }
}

function chunksOf(total: number, size: number): Uint8Array<ArrayBuffer>[] {
  const bytes = new Uint8Array(total).map((_, i) => (i * 31 + 7) & 0xff);
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 0; at < total; at += size) chunks.push(bytes.slice(at, at + size));
  return chunks;
}

async function digestOf(state: Uint8Array): Promise<string> {
  return (await ImageHash.restore(state)).digestHex();
}

describe('the image hasher off the main thread (BK-6, BK-7)', () => {
  it('hashes chunks in the order given, hands each buffer back and a state after each', async () => {
    const chunks = chunksOf(10_000, 1024);
    const fake = new FakeWorker();
    const hasher = new WorkerChunkHasher(
      (await ImageHash.create()).saveState(),
      () => fake as unknown as Worker,
    );
    const sent = chunks.map((c) => c.slice().buffer);
    // All in flight at once, as the encoder sends them.
    const results = await Promise.all(sent.map((buffer) => hasher.update(buffer)));
    expect(sent.every((buffer) => buffer.byteLength === 0)).toBe(true); // transferred
    results.forEach((result, i) => expect(new Uint8Array(result.buffer)).toEqual(chunks[i]));
    for (let i = 0; i < chunks.length; i++) {
      const whole = new Uint8Array(chunks.slice(0, i + 1).flatMap((c) => [...c]));
      expect(await digestOf(results[i]!.state)).toBe(await sha256Hex(whole));
    }
    hasher.close();
    expect(fake.terminated).toBe(true);
  });

  it('goes on from a saved state, in a worker and in-process alike', async () => {
    const chunks = chunksOf(5000, 1000);
    const start = await ImageHash.create();
    start.update(chunks[0]!).update(chunks[1]!);
    const expected = await sha256Hex(new Uint8Array(chunks.flatMap((c) => [...c])));
    for (const hasher of [
      new WorkerChunkHasher(start.saveState(), () => new FakeWorker() as unknown as Worker),
      new InProcessChunkHasher(start.saveState()),
    ]) {
      let state: Uint8Array | undefined;
      for (const chunk of chunks.slice(2))
        state = (await hasher.update(chunk.slice().buffer)).state;
      expect(await digestOf(state!)).toBe(expected);
      hasher.close();
    }
  });

  it('says so when the saved state it starts from is not a hash state', async () => {
    for (const hasher of [
      new WorkerChunkHasher(new Uint8Array(20), () => new FakeWorker() as unknown as Worker),
      new InProcessChunkHasher(new Uint8Array(3)),
    ]) {
      const error = await hasher.update(new ArrayBuffer(8)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImageHashError);
      expect((error as Error).message).toMatch(
        /^The image's SHA-256 could not be computed: (The saved image hash state is not a SHA-256 state|A saved image hash state is at least 8 bytes)\.$/,
      );
      hasher.close();
    }
  });

  it('fails every chunk waiting, and every later one, when its worker stops', async () => {
    const fake = new FakeWorker();
    fake.terminated = true; // never answers
    const hasher = new WorkerChunkHasher(
      (await ImageHash.create()).saveState(),
      () => fake as unknown as Worker,
    );
    const waiting = hasher.update(new ArrayBuffer(16));
    fake.crash('out of memory');
    await expect(waiting).rejects.toThrow(
      "The image's SHA-256 could not be computed: out of memory",
    );
    await expect(hasher.update(new ArrayBuffer(16))).rejects.toThrow(ImageHashError);
    hasher.close();
    await expect(hasher.update(new ArrayBuffer(16))).rejects.toThrow(ImageHashError);
  });

  it('refuses chunks once closed', async () => {
    const hasher = new WorkerChunkHasher(
      (await ImageHash.create()).saveState(),
      () => new FakeWorker() as unknown as Worker,
    );
    hasher.close();
    await expect(hasher.update(new ArrayBuffer(4))).rejects.toThrow(/it was stopped/);
  });
});
