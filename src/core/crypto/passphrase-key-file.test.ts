import { describe, expect, it } from 'vitest';
import { toHex } from './bytes';
import { exportRawKey, generateChunkIdKey } from './keys';
import {
  ARGON2ID_DEFAULTS,
  KeyFileError,
  openPassphraseKeyFile,
  sealPassphraseKeyFile,
} from './passphrase-key-file';

const VOLUME = 'ext4:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
const PASSPHRASE = 'correct horse battery staple';
/** The file's own settings are what opening uses; tests seal cheaply, one test with the defaults. */
const FAST = { memoryKiB: 8_192, iterations: 1, parallelism: 1 };

async function keyAndFile(settings = FAST) {
  const key = await generateChunkIdKey({ extractable: true });
  return { key, text: await sealPassphraseKeyFile(VOLUME, key, PASSPHRASE, settings) };
}

describe('passphrase key files', () => {
  it('round-trips the chunk-ID key with the default Argon2id settings, and says which they were', async () => {
    const { key, text } = await keyAndFile(ARGON2ID_DEFAULTS);
    const file = JSON.parse(text) as { kdf: Record<string, unknown>; volumeId: string };
    expect(file.kdf).toMatchObject({ name: 'argon2id', memoryKiB: 65_536, iterations: 3 });
    expect(file.volumeId).toBe(VOLUME);
    expect(text).not.toContain(toHex(await exportRawKey(key)));
    const opened = await openPassphraseKeyFile(text, PASSPHRASE);
    expect(opened.volumeId).toBe(VOLUME);
    expect(toHex(await exportRawKey(opened.chunkIdKey))).toBe(toHex(await exportRawKey(key)));
  });

  it('refuses a wrong passphrase with a clear error', async () => {
    const { text } = await keyAndFile();
    const error = await openPassphraseKeyFile(text, 'correct horse battery stapler').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeyFileError);
    expect(error).toMatchObject({ reason: 'wrong-passphrase' });
    expect((error as Error).message).toContain('passphrase does not open this key file');
  });

  it('refuses a file whose volume ID, settings or ciphertext were changed', async () => {
    const { text } = await keyAndFile();
    const file = JSON.parse(text) as Record<string, unknown> & { kdf: Record<string, unknown> };
    const variants = [
      { ...file, volumeId: 'ext4:0b1c2d3e-4f50-4617-8293-a4b5c6d7e8fa' },
      { ...file, kdf: { ...file.kdf, iterations: 2 } },
      { ...file, ciphertext: `A${(file.ciphertext as string).slice(1)}` },
    ];
    for (const variant of variants) {
      await expect(
        openPassphraseKeyFile(JSON.stringify(variant), PASSPHRASE),
      ).rejects.toMatchObject({ reason: 'wrong-passphrase' });
    }
  });

  it('refuses a cut-off file, another kind of file, and settings meant to exhaust the browser', async () => {
    const { text } = await keyAndFile();
    const file = JSON.parse(text) as Record<string, unknown> & { kdf: Record<string, unknown> };
    for (const bad of [
      text.slice(0, text.length / 2),
      '{"type":"custodian-keys-file"}',
      JSON.stringify({ ...file, kdf: { ...file.kdf, memoryKiB: 64 * 1_048_576 } }),
      JSON.stringify({ ...file, format: 2 }),
    ]) {
      await expect(openPassphraseKeyFile(bad, PASSPHRASE)).rejects.toMatchObject({
        reason: 'not-a-key-file',
      });
    }
  });
});
